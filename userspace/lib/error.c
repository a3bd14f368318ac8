// SPDX-License-Identifier: LGPL-2.1-or-later
/* The message of the calling thread's last failed libmigsend call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[512];

int ms_fail(int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	if (err && n >= 0 && (size_t)n < sizeof(last_error))
		snprintf(last_error + n, sizeof(last_error) - n, ": %s",
			 strerror(err));
	return -err;
}

const char *migsend_last_error(void)
{
	return last_error;
}
