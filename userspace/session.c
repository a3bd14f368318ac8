// SPDX-License-Identifier: LGPL-2.1-or-later
/* Sessions on /dev/migsend: thin, checked wrappers of the ioctls. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

static const char *const ms_engine_names[] = {
	[MIGSEND_ENGINE_AUTO] = "auto",
	[MIGSEND_ENGINE_KERNEL] = "kernel",
	[MIGSEND_ENGINE_USER_COPY] = "user-copy",
	[MIGSEND_ENGINE_USER_ZC] = "user-zc",
	[MIGSEND_ENGINE_USER_SENDFILE] = "user-sendfile",
};

const char *migsend_engine_name(enum migsend_engine e)
{
	return (unsigned int)e < sizeof(ms_engine_names) / sizeof(ms_engine_names[0]) ?
	       ms_engine_names[e] : "unknown";
}

int migsend_engine_parse(const char *name, enum migsend_engine *e)
{
	unsigned int i;

	for (i = 0; i < sizeof(ms_engine_names) / sizeof(ms_engine_names[0]); i++) {
		if (!strcmp(name, ms_engine_names[i])) {
			*e = i;
			return 0;
		}
	}
	return ms_fail(EINVAL, "unknown engine '%s' (auto, kernel, user-copy, user-zc, user-sendfile)",
		       name);
}

enum migsend_engine migsend_session_engine(const struct migsend_session *s)
{
	return s->engine;
}

static bool ms_is_user(const struct migsend_session *s)
{
	return s->engine != MIGSEND_ENGINE_KERNEL;
}

int migsend_session_open_engine(struct migsend_session **out,
				enum migsend_engine e)
{
	struct migsend_session *s;
	int err;

	if (e == MIGSEND_ENGINE_KERNEL || e == MIGSEND_ENGINE_AUTO) {
		err = migsend_session_open(out, NULL);
		if (!err || e == MIGSEND_ENGINE_KERNEL || err != -ENOENT)
			return err;
		e = MIGSEND_ENGINE_USER_SENDFILE;	/* no module: fall back */
	}
	if ((unsigned int)e > MIGSEND_ENGINE_USER_SENDFILE)
		return ms_fail(EINVAL, "unknown engine %d", e);
	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_fail(ENOMEM, "cannot allocate a session");
	s->fd = -1;
	s->engine = e;
	err = ms_user_open(s);
	if (err) {
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

int migsend_session_open(struct migsend_session **out, const char *dev_path)
{
	const char *path = dev_path ? dev_path : "/dev/" MIGSEND_DEVICE_NAME;
	struct migsend_session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return ms_fail(ENOMEM, "cannot allocate a session");
	s->engine = MIGSEND_ENGINE_KERNEL;
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		err = errno;
		free(s);
		if (err == ENOENT || err == ENXIO || err == ENODEV)
			return ms_fail(ENOENT, "%s is missing: the migsend module is not loaded (load it with 'modprobe migsend' or 'insmod migsend.ko')",
				       path);
		if (err == EPERM || err == EACCES)
			return ms_fail(err, "cannot open %s: root with CAP_NET_ADMIN is needed",
				       path);
		return ms_fail(err, "cannot open %s", path);
	}
	*out = s;
	return 0;
}

void migsend_session_close(struct migsend_session *s)
{
	if (!s)
		return;
	if (ms_is_user(s))
		ms_user_close(s);
	else
		close(s->fd);
	free(s);
}

int migsend_session_fd(const struct migsend_session *s)
{
	return s->fd;
}

static int ms_ioctl(struct migsend_session *s, unsigned long cmd, void *arg,
		    const char *what)
{
	int ret = ioctl(s->fd, cmd, arg);

	return ret < 0 ? ms_fail(errno, "%s", what) : ret;
}

int migsend_get_version(struct migsend_session *s, struct migsend_version *v)
{
	if (ms_is_user(s))
		return ms_fail(EOPNOTSUPP, "the %s engine does not use the module",
			       migsend_engine_name(s->engine));
	return ms_ioctl(s, MIGSEND_IOC_VERSION, v, "reading the module version");
}

/* Keep the layout sorted by gpa, for the handshake. */
static void ms_layout_insert(struct migsend_session *s, uint64_t gpa, uint64_t len)
{
	unsigned int i = s->nregions;

	while (i > 0 && s->regions[i - 1].gpa > gpa) {
		s->regions[i] = s->regions[i - 1];
		i--;
	}
	s->regions[i].gpa = gpa;
	s->regions[i].len = len;
	s->nregions++;
}

int migsend_add_region(struct migsend_session *s, int fd, uint64_t offset,
		       uint64_t gpa, uint64_t len)
{
	struct migsend_region r = {
		.fd = fd, .offset = offset, .gpa = gpa, .len = len,
	};
	int err;

	if (s->nregions >= MS_MAX_REGIONS)
		return ms_fail(ENOSPC, "adding a memory region: at most %u", MS_MAX_REGIONS);
	err = ms_is_user(s) ? ms_user_add_region(s, fd, offset, gpa, len) :
	      ms_ioctl(s, MIGSEND_IOC_ADD_REGION, &r, "adding a memory region");
	if (!err)
		ms_layout_insert(s, gpa, len);
	return err;
}

int migsend_add_socket(struct migsend_session *s, int sock_fd)
{
	struct migsend_sock a = { .fd = sock_fd };

	if (ms_is_user(s))
		return ms_user_add_socket(s, sock_fd);
	return ms_ioctl(s, MIGSEND_IOC_ADD_SOCK, &a, "adding a data connection");
}

int migsend_pass_start(struct migsend_session *s, const struct migsend_pass *p)
{
	if (ms_is_user(s))
		return ms_user_pass_start(s, p);
	return ms_ioctl(s, MIGSEND_IOC_PASS_START, (void *)p, "starting a pass");
}

int migsend_pass_wait(struct migsend_session *s, struct migsend_pass_result *r)
{
	int ret;

	if (ms_is_user(s))
		return ms_user_pass_wait(s, r);
	do {
		ret = ioctl(s->fd, MIGSEND_IOC_PASS_WAIT, r);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? ms_fail(errno, "waiting for the pass") : 0;
}

int migsend_pass_cancel(struct migsend_session *s)
{
	if (ms_is_user(s)) {
		ms_user_pass_cancel(s);
		return 0;
	}
	return ms_ioctl(s, MIGSEND_IOC_PASS_CANCEL, NULL, "cancelling the pass");
}

int migsend_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns)
{
	memset(st, 0, sizeof(*st));
	if (ms_is_user(s))
		return ms_user_get_stats(s, st, conns, nconns);
	st->conns = (uintptr_t)conns;
	st->nconns = nconns;
	return ms_ioctl(s, MIGSEND_IOC_GET_STATS, st, "reading statistics");
}
