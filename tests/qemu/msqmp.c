// SPDX-License-Identifier: GPL-2.0
/*
 * msqmp: the smallest QMP client the QEMU tests need (the test VM has no
 * Python and busybox's nc speaks no unix sockets).
 *
 *   msqmp [--timeout S] SOCKET COMMAND...
 *	Sends each COMMAND (a JSON object such as {"execute":"stop"}) and
 *	prints its answer as one line.  Exit 1 at the first error answer
 *	(printed on stderr), 2 when QEMU cannot be reached or does not
 *	answer in time.
 *   msqmp [--timeout S] --events SOCKET [--until EVENT]
 *	Prints every event as one line (QMP's JSON, with its timestamp)
 *	until QEMU goes away, or until EVENT has been printed (exit 0).
 *	Exit 2 on timeout.
 *   msqmp --now
 *	Prints the wall clock in microseconds: the clock of QMP's event
 *	timestamps, for intervals that start outside QEMU.
 *
 * The socket is retried until the timeout (default 10 s for commands,
 * none for events), so it may be started before QEMU has created it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN (1 << 20)

struct qmp {
	int fd;
	double deadline;	/* CLOCK_MONOTONIC seconds; 0: none */
	size_t len;
	char buf[LINE_MAX_LEN];
};

static struct qmp q;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left before the deadline, -1 for none, 0 when past. */
static int time_left_ms(void)
{
	double left;

	if (!q.deadline)
		return -1;
	left = q.deadline - now();
	return left > 0 ? (int)(left * 1000) + 1 : 0;
}

static int qmp_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "msqmp: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	for (;;) {
		q.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (q.fd < 0)
			break;
		if (connect(q.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		close(q.fd);
		if ((errno != ENOENT && errno != ECONNREFUSED) || !time_left_ms())
			break;
		usleep(50 * 1000);
	}
	fprintf(stderr, "msqmp: cannot connect to %s: %s\n", path, strerror(errno));
	return -1;
}

/*
 * The next line from QEMU, without its line end, or NULL at end of
 * stream or timeout (errno ETIMEDOUT).
 */
static char *qmp_read_line(void)
{
	static size_t consumed;
	char *nl;

	memmove(q.buf, q.buf + consumed, q.len - consumed);
	q.len -= consumed;
	consumed = 0;
	while (!(nl = memchr(q.buf, '\n', q.len))) {
		struct pollfd p = { .fd = q.fd, .events = POLLIN };
		ssize_t n;

		if (q.len == sizeof(q.buf) - 1)
			q.len = 0;	/* longer than anything QEMU sends: drop */
		if (poll(&p, 1, time_left_ms()) == 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		n = read(q.fd, q.buf + q.len, sizeof(q.buf) - 1 - q.len);
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return NULL;
		}
		q.len += (size_t)n;
	}
	consumed = (size_t)(nl - q.buf) + 1;
	*nl = 0;
	if (nl > q.buf && nl[-1] == '\r')
		nl[-1] = 0;
	return q.buf;
}

static int is_event(const char *line)
{
	return strncmp(line, "{\"timestamp\"", 12) == 0 && strstr(line, "\"event\"");
}

static int qmp_send(const char *cmd)
{
	size_t len = strlen(cmd);

	if (write(q.fd, cmd, len) != (ssize_t)len || write(q.fd, "\n", 1) != 1) {
		fprintf(stderr, "msqmp: write: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* The answer to cmd, events skipped; NULL when none came. */
static char *qmp_execute(const char *cmd)
{
	char *line;

	if (qmp_send(cmd))
		return NULL;
	while ((line = qmp_read_line())) {
		if (!is_event(line))
			return line;
	}
	fprintf(stderr, "msqmp: no answer to %s: %s\n", cmd, strerror(errno));
	return NULL;
}

/* The greeting, then capabilities negotiation: commands are allowed. */
static int qmp_handshake(void)
{
	char *line = qmp_read_line();

	if (!line || !strstr(line, "\"QMP\"")) {
		fprintf(stderr, "msqmp: no QMP greeting\n");
		return -1;
	}
	line = qmp_execute("{\"execute\":\"qmp_capabilities\"}");
	return line && strncmp(line, "{\"return\"", 9) == 0 ? 0 : -1;
}

static int run_commands(char **cmds, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		char *line = qmp_execute(cmds[i]);

		if (!line)
			return 2;
		if (strncmp(line, "{\"error\"", 8) == 0) {
			fprintf(stderr, "msqmp: %s: %s\n", cmds[i], line);
			return 1;
		}
		printf("%s\n", line);
		fflush(stdout);
	}
	return 0;
}

/* Does line report the event named name? */
static int event_is(const char *line, const char *name)
{
	const char *p = strstr(line, "\"event\"");

	if (!p)
		return 0;
	p += 7;
	while (*p == ' ' || *p == ':')
		p++;
	return *p == '"' && strncmp(p + 1, name, strlen(name)) == 0 &&
	       p[1 + strlen(name)] == '"';
}

static int print_events(const char *until)
{
	char *line;

	while ((line = qmp_read_line())) {
		if (!is_event(line))
			continue;
		printf("%s\n", line);
		fflush(stdout);
		if (until && event_is(line, until))
			return 0;
	}
	if (errno == ETIMEDOUT) {
		fprintf(stderr, "msqmp: timed out waiting for events\n");
		return 2;
	}
	return until ? 1 : 0;
}

static int print_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	printf("%lld\n", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: msqmp [--timeout S] SOCKET COMMAND...\n"
			"       msqmp [--timeout S] --events SOCKET [--until EVENT]\n"
			"       msqmp --now\n");
	return 2;
}

int main(int argc, char **argv)
{
	double timeout = -1;
	const char *until = NULL;
	int events = 0, i = 1;

	if (argc == 2 && strcmp(argv[1], "--now") == 0)
		return print_now();
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
			timeout = atof(argv[++i]);
		else if (strcmp(argv[i], "--events") == 0)
			events = 1;
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	if (events && i + 1 < argc) {
		if (i + 3 != argc || strcmp(argv[i + 1], "--until") != 0)
			return usage();
		until = argv[i + 2];
	}
	if (timeout < 0)
		timeout = events ? 0 : 10;
	q.deadline = timeout > 0 ? now() + timeout : 0;
	if (qmp_connect(argv[i]) || qmp_handshake())
		return 2;
	if (events)
		return print_events(until);
	return run_commands(argv + i + 1, argc - i - 1);
}
