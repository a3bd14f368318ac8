// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Who runs the guest after the handover (docs/PROTOCOL.md): a destination
 * whose VMM resumes the guest itself says so, once, after the source's
 * DONE: RUNNING, with the time it resumed it.  The source waits for it to
 * tell a handover it knows completed from one it cannot know (the
 * connection lost after its DONE), and to report the downtime the guest
 * saw.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "internal.h"

int migsend_handover_running(int ctl, uint64_t resumed_us)
{
	struct migsend_ctl_running r = { .resumed_us = htole64(resumed_us) };
	int err = ms_ctl_send(ctl, MIGSEND_CTL_RUNNING, &r, sizeof(r));

	return err ? ms_fail(-err, "telling the source that the guest runs here") : 0;
}

int migsend_handover_wait_running(int ctl, int timeout_ms, uint64_t *resumed_us)
{
	uint8_t buf[sizeof(struct migsend_ctl_abort) + MIGSEND_REASON_MAX];
	char reason[MIGSEND_REASON_MAX + 1];
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	struct migsend_ctl_running r;
	uint16_t type;
	uint32_t len;
	int n, err;

	do
		n = poll(&pfd, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return ms_fail(ETIMEDOUT, "the destination did not say within %d ms whether it runs the guest",
			       timeout_ms);
	err = n < 0 ? -errno : ms_ctl_recv(ctl, &type, buf, sizeof(buf), &len);
	if (err)
		return ms_fail(ECONNRESET, "the connection to the destination was lost before it said whether it runs the guest");
	if (type == MIGSEND_CTL_RUNNING && len == sizeof(r)) {
		memcpy(&r, buf, sizeof(r));
		*resumed_us = le64toh(r.resumed_us);
		return 0;
	}
	if (type == MIGSEND_CTL_ABORT) {
		err = ms_ctl_abort_decode(buf, len, reason, sizeof(reason));
		return ms_fail(ECONNABORTED, "the destination will not run the guest: %s (%s)",
			       reason, strerror(err > 0 ? err : EPROTO));
	}
	return ms_fail(EPROTO, "unexpected message %u from the destination after the handover", type);
}
