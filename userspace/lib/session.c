// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Sessions: the engine-independent part (names, the layout kept for the
 * handshake) and the calls, each handed to the session's engine.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
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

static const struct ms_engine_ops *ms_engine_ops(enum migsend_engine e)
{
	return e == MIGSEND_ENGINE_KERNEL ? &ms_engine_kernel_ops : &ms_engine_user_ops;
}

static int ms_session_open(struct migsend_session **out, enum migsend_engine e,
			   const char *dev_path)
{
	struct migsend_session *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return ms_fail(ENOMEM, "cannot allocate a session");
	s->fd = -1;
	s->engine = e;
	s->ops = ms_engine_ops(e);
	err = s->ops->open(s, dev_path);
	if (err) {
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

int migsend_session_open_engine(struct migsend_session **out,
				enum migsend_engine e)
{
	int err;

	if (e == MIGSEND_ENGINE_KERNEL || e == MIGSEND_ENGINE_AUTO) {
		err = ms_session_open(out, MIGSEND_ENGINE_KERNEL, NULL);
		if (!err || e == MIGSEND_ENGINE_KERNEL || err != -ENOENT)
			return err;
		e = MIGSEND_ENGINE_USER_SENDFILE;	/* no module: fall back */
	}
	if ((unsigned int)e > MIGSEND_ENGINE_USER_SENDFILE)
		return ms_fail(EINVAL, "unknown engine %d", e);
	return ms_session_open(out, e, NULL);
}

int migsend_session_open(struct migsend_session **out, const char *dev_path)
{
	return ms_session_open(out, MIGSEND_ENGINE_KERNEL, dev_path);
}

void migsend_session_close(struct migsend_session *s)
{
	if (!s)
		return;
	ms_pacer_stop(s);
	s->ops->close(s);
	free(s);
}

int migsend_session_fd(const struct migsend_session *s)
{
	return s->fd;
}

int migsend_get_version(struct migsend_session *s, struct migsend_version *v)
{
	return s->ops->version(s, v);
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
	int err;

	if (s->nregions >= MS_MAX_REGIONS)
		return ms_fail(ENOSPC, "adding a memory region: at most %u", MS_MAX_REGIONS);
	err = s->ops->add_region(s, fd, offset, gpa, len);
	if (!err)
		ms_layout_insert(s, gpa, len);
	return err;
}

int migsend_add_socket(struct migsend_session *s, int sock_fd)
{
	int ret;

	if (s->nsocks >= MIGSEND_MAX_CONNS)
		return ms_fail(ENOSPC, "adding a data connection: at most %u", MIGSEND_MAX_CONNS);
	ret = s->ops->add_socket(s, sock_fd);
	if (ret < 0)
		return ret;
	s->socks[s->nsocks++] = sock_fd;
	if (s->max_bandwidth) {
		int err = ms_pacing_set(s, s->max_bandwidth);

		if (err)
			return err;
	}
	return ret;
}

int migsend_pass_start(struct migsend_session *s, const struct migsend_pass *p)
{
	return s->ops->pass_start(s, p);
}

int migsend_pass_wait(struct migsend_session *s, struct migsend_pass_result *r)
{
	return s->ops->pass_wait(s, r);
}

int migsend_pass_cancel(struct migsend_session *s)
{
	return s->ops->pass_cancel(s);
}

int migsend_get_stats(struct migsend_session *s, struct migsend_stats *st,
		      struct migsend_conn_stats *conns, uint32_t nconns)
{
	memset(st, 0, sizeof(*st));
	return s->ops->get_stats(s, st, conns, nconns);
}
