// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel engine: the session's calls as ioctls of /dev/migsend, whose
 * threads send zero-copy (see uapi/linux/migsend.h for each call's errnos).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine.h"
#include "internal.h"

static int ms_kernel_open(struct migsend_session *s, const char *dev_path)
{
	const char *path = dev_path ? dev_path : "/dev/" MIGSEND_DEVICE_NAME;
	int err;

	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd >= 0)
		return 0;
	err = errno;
	if (err == ENOENT || err == ENXIO || err == ENODEV)
		return ms_fail(ENOENT, "%s is missing: the migsend module is not loaded (load it with 'modprobe migsend' or 'insmod migsend.ko')",
			       path);
	if (err == EPERM || err == EACCES)
		return ms_fail(err, "cannot open %s: root with CAP_NET_ADMIN is needed",
			       path);
	return ms_fail(err, "cannot open %s", path);
}

static void ms_kernel_close(struct migsend_session *s)
{
	close(s->fd);
}

static int ms_ioctl(struct migsend_session *s, unsigned long cmd, void *arg,
		    const char *what)
{
	int ret = ioctl(s->fd, cmd, arg);

	return ret < 0 ? ms_fail(errno, "%s", what) : ret;
}

static int ms_kernel_version(struct migsend_session *s, struct migsend_version *v)
{
	return ms_ioctl(s, MIGSEND_IOC_VERSION, v, "reading the module version");
}

static int ms_kernel_add_region(struct migsend_session *s, int fd, uint64_t offset,
				uint64_t gpa, uint64_t len)
{
	struct migsend_region r = {
		.fd = fd, .offset = offset, .gpa = gpa, .len = len,
	};

	return ms_ioctl(s, MIGSEND_IOC_ADD_REGION, &r, "adding a memory region");
}

static int ms_kernel_add_socket(struct migsend_session *s, int fd)
{
	/* An encrypted session: the module refuses a socket without kTLS. */
	struct migsend_sock a = { .fd = fd, .flags = s->encrypted ? MIGSEND_SOCK_KTLS : 0 };

	return ms_ioctl(s, MIGSEND_IOC_ADD_SOCK, &a, "adding a data connection");
}

static int ms_kernel_pass_start(struct migsend_session *s, const struct migsend_pass *p)
{
	return ms_ioctl(s, MIGSEND_IOC_PASS_START, (void *)p, "starting a pass");
}

static int ms_kernel_pass_wait(struct migsend_session *s, struct migsend_pass_result *r)
{
	int ret;

	do {
		ret = ioctl(s->fd, MIGSEND_IOC_PASS_WAIT, r);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? ms_fail(errno, "waiting for the pass") : 0;
}

static int ms_kernel_pass_cancel(struct migsend_session *s)
{
	return ms_ioctl(s, MIGSEND_IOC_PASS_CANCEL, NULL, "cancelling the pass");
}

static int ms_kernel_get_stats(struct migsend_session *s, struct migsend_stats *st,
			       struct migsend_conn_stats *conns, uint32_t nconns)
{
	st->conns = (uintptr_t)conns;
	st->nconns = nconns;
	return ms_ioctl(s, MIGSEND_IOC_GET_STATS, st, "reading statistics");
}

const struct ms_engine_ops ms_engine_kernel_ops = {
	.open = ms_kernel_open,
	.close = ms_kernel_close,
	.version = ms_kernel_version,
	.add_region = ms_kernel_add_region,
	.add_socket = ms_kernel_add_socket,
	.pass_start = ms_kernel_pass_start,
	.pass_wait = ms_kernel_pass_wait,
	.pass_cancel = ms_kernel_pass_cancel,
	.get_stats = ms_kernel_get_stats,
};
