/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where migsend asks which kernel it is built for.  It is
 * an out-of-tree module built for Debian's 6.1 and 6.12 kernels, so the
 * differences are selected by LINUX_VERSION_CODE (not by #ifdef: 6.1
 * defines MSG_SPLICE_PAGES but its TCP ignores it).
 */
#ifndef MS_COMPAT_H
#define MS_COMPAT_H

#include <linux/version.h>

#define MS_KERNEL_CODE		LINUX_VERSION_CODE
#define MS_KERNEL_AT_LEAST(a, b) (KERNEL_VERSION(a, b, 0) <= MS_KERNEL_CODE)

/* From 6.5: sock_sendmsg(MSG_SPLICE_PAGES) replaces ->sendpage. */
#define MS_HAVE_SPLICE_PAGES	MS_KERNEL_AT_LEAST(6, 5)

/* From 6.7 hugetlbfs indexes its page cache in base pages. */
#define MS_HUGETLB_INDEX_IN_BASE_PAGES	MS_KERNEL_AT_LEAST(6, 7)

#endif /* MS_COMPAT_H */
