/* SPDX-License-Identifier: GPL-2.0 */
/* The migsend CLI's QEMU path (docs/QEMU.md). */
#ifndef MIGSEND_CLI_QEMU_H
#define MIGSEND_CLI_QEMU_H

#include <stdbool.h>

/* Whether --qemu-qmp is among the arguments (also as --qemu-qmp=...). */
bool has_qemu_option(int argc, char **argv);

/* migsend send --qemu-qmp SOCKET --to HOST:PORT ... (qemu_send.c) */
int cmd_send_qemu(int argc, char **argv);
/* migsend recv --listen [HOST:]PORT --qemu-qmp SOCKET ... (recv_qemu.c) */
int cmd_recv_qemu(int argc, char **argv);
/* migsend qemu-resume --qemu-qmp SOCKET (qemu_resume.c) */
int cmd_qemu_resume(int argc, char **argv);

/* The line that resumes the guest behind @socket, for messages. */
void qemu_resume_hint(char *buf, unsigned long size, const char *socket);

struct mq_qmp;
/* migrate-set-capabilities x-ignore-shared: QEMU leaves shared RAM to migsend. */
int qemu_ignore_shared(struct mq_qmp *q, bool on);

#endif /* MIGSEND_CLI_QEMU_H */
