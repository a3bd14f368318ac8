// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/migsend basics: the device node, the version ioctl, unknown
 * ioctls, the CAP_NET_ADMIN check, and session lifetime (no leftovers
 * after many sessions).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ms_testlib.h"

#define SESSION_CACHE "migsend_session"

TEST(device_node_is_root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(MS_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST(version_matches_header)
{
	struct migsend_version v;
	int fd = ms_open();

	ASSERT_LE(0, fd);
	memset(&v, 0xa5, sizeof(v));
	ASSERT_EQ(0, ioctl(fd, MIGSEND_IOC_VERSION, &v));
	EXPECT_EQ(MIGSEND_API_VERSION, v.api_version);
	EXPECT_EQ(MIGSEND_WIRE_VERSION, v.wire_version);
	EXPECT_EQ(MIGSEND_MAX_REGIONS, v.max_regions);
	EXPECT_EQ(MIGSEND_MAX_CONNS, v.max_conns);
	EXPECT_EQ(MIGSEND_MAX_DATA_PAGES, v.max_data_pages);
	EXPECT_EQ(MIGSEND_PAGE_SIZE, v.page_size);
	EXPECT_TRUE(v.features & MIGSEND_FEAT_ZEROCOPY);
	close(fd);
}

TEST(version_bad_pointer_is_efault)
{
	int fd = ms_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, MIGSEND_IOC_VERSION, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST(unknown_ioctls_are_enotty)
{
	int fd = ms_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, _IO(MIGSEND_IOC_MAGIC, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	/* A known number with the wrong size is another ioctl. */
	EXPECT_EQ(-1, ioctl(fd, _IOR(MIGSEND_IOC_MAGIC, 0x00, __u64), NULL));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO('T', 0x01)));
	EXPECT_EQ(ENOTTY, errno);
	close(fd);
}

TEST(open_needs_cap_net_admin)
{
	/* The harness runs each test in its own child: drop it for good. */
	ASSERT_EQ(0, ms_drop_cap(CAP_NET_ADMIN));
	EXPECT_EQ(-1, ms_open());
	EXPECT_EQ(EPERM, errno);
}

TEST(device_is_not_seekable)
{
	int fd = ms_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	close(fd);
}

TEST(thousand_sessions_leave_nothing)
{
	long before = ms_slab_objects(SESSION_CACHE);
	struct migsend_version v;
	int i, fd;

	ASSERT_LE(0, before);
	for (i = 0; i < 1000; i++) {
		fd = ms_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ioctl(fd, MIGSEND_IOC_VERSION, &v));
		ASSERT_EQ(0, close(fd));
	}
	EXPECT_EQ(before, ms_slab_objects(SESSION_CACHE));
}

TEST(eight_sessions_at_once)
{
	long before = ms_slab_objects(SESSION_CACHE);
	struct migsend_version v;
	int fds[8], i;

	ASSERT_LE(0, before);
	for (i = 0; i < 8; i++) {
		fds[i] = ms_open();
		ASSERT_LE(0, fds[i]);
	}
	EXPECT_EQ(before + 8, ms_slab_objects(SESSION_CACHE));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0, ioctl(fds[i], MIGSEND_IOC_VERSION, &v));
	for (i = 0; i < 8; i++)
		close(fds[i]);
	EXPECT_EQ(before, ms_slab_objects(SESSION_CACHE));
}

TEST_HARNESS_MAIN
