// SPDX-License-Identifier: LGPL-2.1-or-later
#include "libmigsend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct migsend_session {
	int fd;
};

static _Thread_local char last_error[256];

static int fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - n, ": %s",
			 strerror(err));
	return -err;
}

const char *migsend_last_error(void)
{
	return last_error;
}

int migsend_session_open(struct migsend_session **out, const char *dev_path)
{
	const char *path = dev_path ? dev_path : "/dev/" MIGSEND_DEVICE_NAME;
	struct migsend_session *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(ENOMEM, "cannot allocate a session");
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		err = errno;
		free(s);
		if (err == ENOENT)
			return fail(err, "%s does not exist: is the migsend module loaded? (modprobe migsend, or insmod migsend.ko)", path);
		if (err == EPERM || err == EACCES)
			return fail(err, "cannot open %s: root with CAP_NET_ADMIN is needed", path);
		return fail(err, "cannot open %s", path);
	}
	*out = s;
	return 0;
}

void migsend_session_close(struct migsend_session *s)
{
	if (!s)
		return;
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

	return ret < 0 ? fail(errno, "%s", what) : ret;
}

int migsend_get_version(struct migsend_session *s, struct migsend_version *v)
{
	return ms_ioctl(s, MIGSEND_IOC_VERSION, v, "reading the module version");
}

int migsend_add_region(struct migsend_session *s, int fd, uint64_t offset,
		       uint64_t gpa, uint64_t len)
{
	struct migsend_region r = {
		.fd = fd, .offset = offset, .gpa = gpa, .len = len,
	};

	return ms_ioctl(s, MIGSEND_IOC_ADD_REGION, &r, "adding a memory region");
}

int migsend_add_socket(struct migsend_session *s, int sock_fd)
{
	struct migsend_sock a = { .fd = sock_fd };

	return ms_ioctl(s, MIGSEND_IOC_ADD_SOCK, &a, "adding a data connection");
}

int migsend_pass_start(struct migsend_session *s, const struct migsend_pass *p)
{
	return ms_ioctl(s, MIGSEND_IOC_PASS_START, (void *)p, "starting a pass");
}

int migsend_pass_wait(struct migsend_session *s, struct migsend_pass_result *r)
{
	return ms_ioctl(s, MIGSEND_IOC_PASS_WAIT, r, "waiting for the pass");
}

int migsend_pass_cancel(struct migsend_session *s)
{
	return ms_ioctl(s, MIGSEND_IOC_PASS_CANCEL, NULL, "cancelling the pass");
}

int migsend_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns)
{
	memset(st, 0, sizeof(*st));
	st->conns = (uintptr_t)conns;
	st->nconns = nconns;
	return ms_ioctl(s, MIGSEND_IOC_GET_STATS, st, "reading statistics");
}
