// SPDX-License-Identifier: GPL-2.0
/*
 * migsend: module, the /dev/migsend misc device, and ioctl dispatch.
 *
 * Each open() of /dev/migsend is one migration session; release() ends it
 * and drops every reference the session holds.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/uaccess.h>

#include "migsend.h"

#define MIGSEND_MODULE_VERSION	"0.1.0"

static int ms_open(struct inode *inode, struct file *file)
{
	struct ms_session *s;

	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	s = ms_session_create();
	if (IS_ERR(s))
		return PTR_ERR(s);
	file->private_data = s;
	return nonseekable_open(inode, file);
}

static int ms_release(struct inode *inode, struct file *file)
{
	ms_session_destroy(file->private_data);
	return 0;
}

static long ms_ioctl_version(void __user *arg)
{
	struct migsend_version v = {
		.api_version = MIGSEND_API_VERSION,
		.wire_version = MIGSEND_WIRE_VERSION,
		.features = MIGSEND_FEAT_SHMEM | MIGSEND_FEAT_HUGETLB |
			    MIGSEND_FEAT_ZERO_SKIP | MIGSEND_FEAT_ZEROCOPY |
			    MIGSEND_FEAT_KTLS | MIGSEND_FEAT_SPARSE,
		.max_regions = MIGSEND_MAX_REGIONS,
		.max_conns = MIGSEND_MAX_CONNS,
		.max_data_pages = MIGSEND_MAX_DATA_PAGES,
		.page_size = MIGSEND_PAGE_SIZE,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static long ms_ioctl_add_region(struct ms_session *s, void __user *arg)
{
	struct migsend_region r;

	if (copy_from_user(&r, arg, sizeof(r)))
		return -EFAULT;
	return ms_session_add_region(s, &r);
}

static long ms_ioctl_add_sock(struct ms_session *s, void __user *arg)
{
	struct migsend_sock a;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	return ms_session_add_sock(s, &a);
}

static long ms_ioctl_pass_start(struct ms_session *s, void __user *arg)
{
	struct migsend_pass a;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	return ms_pass_start(s, &a);
}

static long ms_ioctl_pass_wait(struct ms_session *s, struct file *file,
			       void __user *arg)
{
	struct migsend_pass_result res;
	int err;

	err = ms_pass_wait(s, file->f_flags & O_NONBLOCK, &res);
	if (err)
		return err;
	return copy_to_user(arg, &res, sizeof(res)) ? -EFAULT : 0;
}

static long ms_ioctl_get_stats(struct ms_session *s, void __user *arg)
{
	struct migsend_stats st;
	int err;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	err = ms_pass_get_stats(s, &st);
	if (err)
		return err;
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long ms_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct ms_session *s = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case MIGSEND_IOC_VERSION:
		return ms_ioctl_version(uarg);
	case MIGSEND_IOC_ADD_REGION:
		return ms_ioctl_add_region(s, uarg);
	case MIGSEND_IOC_ADD_SOCK:
		return ms_ioctl_add_sock(s, uarg);
	case MIGSEND_IOC_PASS_START:
		return ms_ioctl_pass_start(s, uarg);
	case MIGSEND_IOC_PASS_WAIT:
		return ms_ioctl_pass_wait(s, file, uarg);
	case MIGSEND_IOC_PASS_CANCEL:
		ms_pass_cancel(s, -ECANCELED);
		return 0;
	case MIGSEND_IOC_GET_STATS:
		return ms_ioctl_get_stats(s, uarg);
	default:
		return -ENOTTY;
	}
}

static __poll_t ms_poll(struct file *file, poll_table *wait)
{
	struct ms_session *s = file->private_data;

	poll_wait(file, &s->done_wq, wait);
	return ms_pass_running(s) ? 0 : EPOLLIN | EPOLLRDNORM;
}

static const struct file_operations ms_fops = {
	.owner = THIS_MODULE,
	.open = ms_open,
	.release = ms_release,
	.unlocked_ioctl = ms_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = ms_poll,
};

static struct miscdevice ms_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MIGSEND_DEVICE_NAME,
	.fops = &ms_fops,
	.mode = 0600,
};

static int __init ms_init(void)
{
	int err;

	err = ms_session_init();
	if (err)
		return err;
	err = ms_nl_init();
	if (err)
		goto session_exit;
	err = misc_register(&ms_miscdev);
	if (err)
		goto nl_exit;
	pr_info("version %s loaded\n", MIGSEND_MODULE_VERSION);
	return 0;

nl_exit:
	ms_nl_exit();
session_exit:
	ms_session_exit();
	return err;
}

static void __exit ms_exit(void)
{
	misc_deregister(&ms_miscdev);
	ms_nl_exit();
	ms_session_exit();
}

module_init(ms_init);
module_exit(ms_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("In-kernel zero-copy send path for VM live migration");
MODULE_AUTHOR("The migsend authors");
MODULE_VERSION(MIGSEND_MODULE_VERSION);
