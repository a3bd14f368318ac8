// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the QEMU path's parsing (userspace/qemu/): where QEMU's
 * guest RAM sits, from the "info mtree" QEMU 7.2 and 10.0 print (the text
 * below is theirs, trimmed of PAM lines), QEMU's mappings in
 * /proc/PID/maps, and migsend's envelope around QEMU's device state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "layout.h"
#include "state.h"

/* QEMU 7.2, -machine pc -m 3584M, memory-backend=ram0: split at 3 GiB. */
static const char mtree_pc3584[] =
	"address-space: cpu-memory-0\r\n"
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-00000000bfffffff (prio 0, ram): alias ram-below-4g @ram0 0000000000000000-00000000bfffffff\n"
	"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n"
	"      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n"
	"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff\n"
	"    00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
	"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\n"
	"    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
	"    0000000100000000-000000011fffffff (prio 0, ram): alias ram-above-4g @ram0 00000000c0000000-00000000dfffffff\n"
	"\n"
	"memory-region: ram0\n"
	"  0000000000000000-00000000dfffffff (prio 0, ram): ram0\n"
	"\n";

/* QEMU 7.2, -machine q35 -m 1G, two NUMA nodes with a backend each. */
static const char mtree_q35numa[] =
	"address-space: cpu-memory-0\r\n"
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-000000003fffffff (prio 0, i/o): alias ram-below-4g @pc.ram 0000000000000000-000000003fffffff\n"
	"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n"
	"      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n"
	"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff\n"
	"    00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
	"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\n"
	"    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
	"\n"
	"memory-region: pc.ram\n"
	"  0000000000000000-000000003fffffff (prio 0, i/o): pc.ram\n"
	"    0000000000000000-000000001fffffff (prio 0, ram): m0\n"
	"    0000000020000000-000000003fffffff (prio 0, ram): m1\n"
	"\n";

/* QEMU 7.2, -machine pc -m 256M,slots=2,maxmem=1G and a pc-dimm of 128M. */
static const char mtree_dimm[] =
	"address-space: cpu-memory-0\r\n"
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-000000000fffffff (prio 0, ram): alias ram-below-4g @ram0 0000000000000000-000000000fffffff\n"
	"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n"
	"      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n"
	"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff\n"
	"    00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
	"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\n"
	"    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
	"    0000000100000000-00000001afffffff (prio 0, i/o): device-memory\n"
	"      0000000100000000-0000000107ffffff (prio 0, ram): mem1\n"
	"\n"
	"memory-region: ram0\n"
	"  0000000000000000-000000000fffffff (prio 0, ram): ram0\n"
	"\n";

/* QEMU 10.0, -machine q35 -m 3G: split at 2 GiB. */
static const char mtree_q10_q35_3g[] =
	"address-space: cpu-memory-0\r\n"
	"address-space: memory\n"
	"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
	"    0000000000000000-000000007fffffff (prio 0, ram): alias ram-below-4g @ram0 0000000000000000-000000007fffffff\n"
	"    0000000000000000-ffffffffffffffff (prio -1, i/o): pci\n"
	"      00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"      00000000000e0000-00000000000fffff (prio 1, rom): alias isa-bios @pc.bios 0000000000020000-000000000003ffff\n"
	"      00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"    00000000000a0000-00000000000bffff (prio 1, i/o): alias smram-region @pci 00000000000a0000-00000000000bffff\n"
	"    00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
	"    00000000fed00000-00000000fed003ff (prio 0, i/o): hpet\n"
	"    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
	"    0000000100000000-000000013fffffff (prio 0, ram): alias ram-above-4g @ram0 0000000080000000-00000000bfffffff\n"
	"\n"
	"memory-region: ram0\n"
	"  0000000000000000-00000000bfffffff (prio 0, ram): ram0\n"
	"\n";

static void backend(struct mq_layout *l, const char *id, uint64_t size)
{
	struct mq_backend *b = &l->b[l->nbackends++];

	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", id);
	snprintf(b->type, sizeof(b->type), "memory-backend-file");
	b->size = size;
	b->share = true;
	b->fd = -1;
}

/* The same text with CRLF line ends, as human-monitor-command returns it. */
static char *crlf(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1), *p = out;

	for (; *s; s++) {
		if (*s == '\n' && (p == out || p[-1] != '\r'))
			*p++ = '\r';
		*p++ = *s;
	}
	*p = 0;
	return out;
}

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static void expect_region(struct __test_metadata *_metadata, const struct mq_region *r,
			  unsigned int b, uint64_t offset, uint64_t gpa, uint64_t len)
{
	EXPECT_EQ(b, r->backend);
	EXPECT_EQ(offset, r->offset);
	EXPECT_EQ(gpa, r->gpa);
	EXPECT_EQ(len, r->len);
}

TEST(pc_above_4g_split_at_3g)
{
	static struct mq_layout l;
	char *t = crlf(mtree_pc3584);

	backend(&l, "ram0", 3584 * MiB);
	ASSERT_EQ(0, mq_mtree_regions(t, &l));
	ASSERT_EQ(2, l.nregions);
	expect_region(_metadata, &l.r[0], 0, 0, 0, 3 * GiB);
	expect_region(_metadata, &l.r[1], 0, 3 * GiB, 4 * GiB, 512 * MiB);
	EXPECT_TRUE(l.b[0].ram);
	free(t);
}

TEST(q35_numa_container_in_node_order)
{
	static struct mq_layout l;

	backend(&l, "m0", 512 * MiB);
	backend(&l, "m1", 512 * MiB);
	ASSERT_EQ(0, mq_mtree_regions(mtree_q35numa, &l));
	ASSERT_EQ(2, l.nregions);
	expect_region(_metadata, &l.r[0], 0, 0, 0, 512 * MiB);
	expect_region(_metadata, &l.r[1], 1, 0, 512 * MiB, 512 * MiB);
}

TEST(pc_dimm_mapped_directly)
{
	static struct mq_layout l;

	backend(&l, "ram0", 256 * MiB);
	backend(&l, "mem1", 128 * MiB);
	ASSERT_EQ(0, mq_mtree_regions(mtree_dimm, &l));
	ASSERT_EQ(2, l.nregions);
	expect_region(_metadata, &l.r[0], 0, 0, 0, 256 * MiB);
	expect_region(_metadata, &l.r[1], 1, 0, 4 * GiB, 128 * MiB);
}

TEST(qemu10_q35_split_at_2g)
{
	static struct mq_layout l;
	uint64_t gpa, npages;

	backend(&l, "ram0", 3 * GiB);
	ASSERT_EQ(0, mq_mtree_regions(mtree_q10_q35_3g, &l));
	ASSERT_EQ(2, l.nregions);
	expect_region(_metadata, &l.r[0], 0, 0, 0, 2 * GiB);
	expect_region(_metadata, &l.r[1], 0, 2 * GiB, 4 * GiB, 1 * GiB);
	mq_layout_span(&l, &gpa, &npages);
	EXPECT_EQ(0, gpa);
	EXPECT_EQ(5 * GiB / 4096, npages);	/* the hole is in the span */
	EXPECT_EQ(3 * GiB, mq_layout_bytes(&l));
}

TEST(backend_not_all_placed_is_refused)
{
	static struct mq_layout l;

	/* QEMU says 3584M of ram0 are mapped; a backend of 4G would be cut. */
	backend(&l, "ram0", 4 * GiB);
	EXPECT_EQ(-EINVAL, mq_mtree_regions(mtree_pc3584, &l));
	EXPECT_NE(NULL, strstr(mq_error(), "cannot place the rest"));
}

TEST(no_backend_ram_is_refused)
{
	static struct mq_layout l;

	/* RAM that is not a backend of ours (-m without memory-backend). */
	backend(&l, "other", 512 * MiB);
	EXPECT_EQ(-EINVAL, mq_mtree_regions(mtree_q35numa, &l));
	EXPECT_NE(NULL, strstr(mq_error(), "pc.ram"));
	EXPECT_EQ(-EINVAL, mq_mtree_regions("address-space: I/O\n  0000-ffff (prio 0, i/o): io\n\n", &l));
}

TEST(same_bytes_twice_are_refused)
{
	static struct mq_layout l;
	static const char twice[] =
		"address-space: memory\n"
		"  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
		"    0000000000000000-000000000fffffff (prio 0, ram): alias ram-below-4g @ram0 0000000000000000-000000000fffffff\n"
		"    0000000100000000-000000010fffffff (prio 0, ram): alias ram-above-4g @ram0 0000000000000000-000000000fffffff\n"
		"\n";

	backend(&l, "ram0", 256 * MiB);
	EXPECT_EQ(-EINVAL, mq_mtree_regions(twice, &l));
	EXPECT_NE(NULL, strstr(mq_error(), "appear twice"));
}

TEST(maps_line)
{
	struct mq_vma v;

	ASSERT_TRUE(mq_maps_parse_line("7fa8b7fff000-7fa8d7fff000 rw-s 00001000 00:1b 3                          /dev/shm/t-m0\n", &v));
	EXPECT_EQ(0x7fa8b7fff000ULL, v.start);
	EXPECT_EQ(0x7fa8d7fff000ULL, v.end);
	EXPECT_EQ(0x1000, v.offset);
	EXPECT_EQ(0, v.dev_major);
	EXPECT_EQ(0x1b, v.dev_minor);
	EXPECT_EQ(3, v.ino);
	EXPECT_TRUE(v.shared);
	EXPECT_STREQ("/dev/shm/t-m0", v.path);
	ASSERT_TRUE(mq_maps_parse_line("7ffd1000-7ffd2000 r-xp 00000000 00:00 0 ", &v));
	EXPECT_FALSE(v.shared);
	EXPECT_STREQ("", v.path);
	EXPECT_FALSE(mq_maps_parse_line("garbage", &v));
}

static const char maps[] =
	"55d0c0a00000-55d0c0b00000 r-xp 00000000 fe:01 1234   /usr/bin/qemu-system-x86_64\n"
	/* ram0, a regular file, mapped in two pieces (split by madvise) */
	"7f0000000000-7f0008000000 rw-s 00000000 00:1b 3      /dev/shm/t-m0\n"
	"7f0008000000-7f0010000000 rw-s 08000000 00:1b 3      /dev/shm/t-m0\n"
	"7f0010000000-7f0010001000 ---p 00000000 00:00 0 \n"
	/* m1, QEMU's unlinked file in a mem-path directory */
	"7f0100000000-7f0120000000 rw-s 00000000 00:1b 4      /dev/shm/qemu_back_mem.m1.fpEMim (deleted)\n"
	/* a private mapping of the same file is not guest RAM */
	"7f0200000000-7f0210000000 rw-p 00000000 00:1b 3      /dev/shm/t-m0\n";

TEST(maps_find_by_inode_across_pieces)
{
	struct mq_backend b = { .id = "ram0", .size = 256 * MiB, .mem_path = "/dev/shm/t-m0" };
	struct mq_vma v;

	ASSERT_EQ(0, mq_maps_find(maps, &b, true, 0, 0x1b, 3, &v));
	EXPECT_EQ(0x7f0000000000ULL, v.start);
	EXPECT_EQ(0x7f0010000000ULL, v.end);
	EXPECT_EQ(0, v.offset);
}

TEST(maps_find_in_mem_path_directory)
{
	struct mq_backend b = { .id = "m1", .size = 512 * MiB, .mem_path = "/dev/shm" };
	struct mq_vma v;

	ASSERT_EQ(0, mq_maps_find(maps, &b, false, 0, 0, 0, &v));
	EXPECT_EQ(0x7f0100000000ULL, v.start);
}

TEST(maps_find_refuses_missing_and_ambiguous)
{
	struct mq_backend b = { .id = "ram0", .size = 128 * MiB, .mem_path = "/dev/shm/t-m0" };
	static const char two[] =
		"7f0000000000-7f0008000000 rw-s 00000000 00:1b 3 /dev/shm/t-m0\n"
		"7f1000000000-7f1008000000 rw-s 00000000 00:1b 3 /dev/shm/t-m0\n";
	struct mq_vma v;

	/* No shared mapping of that size (the pieces make 256M). */
	EXPECT_EQ(-ENOENT, mq_maps_find(maps, &b, true, 0, 0x1b, 3, &v));
	/* Two mappings of the whole backend: which one is guest RAM? */
	EXPECT_EQ(-EINVAL, mq_maps_find(two, &b, true, 0, 0x1b, 3, &v));
	EXPECT_NE(NULL, strstr(mq_error(), "2 times"));
}

TEST(state_envelope_roundtrip_and_rejects)
{
	struct mq_state_hdr h = { .flags = MQ_STATE_F_RUN, .stop_us = 1795962642210959ULL }, o;
	static const char stream[] = "QEVM\0\0\0\3 and the rest";
	const uint8_t *got;
	uint8_t *blob;
	size_t len;

	ASSERT_EQ(0, mq_state_wrap(&h, stream, sizeof(stream), (void **)&blob, &len));
	ASSERT_EQ(MQ_STATE_HDR_LEN + sizeof(stream), len);
	EXPECT_EQ(0, memcmp(blob, "MSQEMU01", 8));
	ASSERT_EQ(0, mq_state_unwrap(blob, len, &o, &got));
	EXPECT_EQ(MQ_STATE_F_RUN, o.flags);
	EXPECT_EQ(1795962642210959ULL, o.stop_us);
	EXPECT_EQ(sizeof(stream), o.len);
	EXPECT_EQ(0, memcmp(got, stream, sizeof(stream)));
	/* Short, not ours, a length that lies, unknown flags, no state at all. */
	EXPECT_EQ(-EPROTO, mq_state_unwrap(blob, len - 1, &o, &got));
	EXPECT_EQ(-EPROTO, mq_state_unwrap("simulated device state", 23, &o, &got));
	EXPECT_EQ(-EPROTO, mq_state_unwrap(NULL, 0, &o, &got));
	blob[8] = 0x2;
	EXPECT_EQ(-EPROTO, mq_state_unwrap(blob, len, &o, &got));
	free(blob);
	EXPECT_EQ(-EMSGSIZE, mq_state_wrap(&h, stream, 64 << 20, (void **)&blob, &len));
}

TEST_HARNESS_MAIN
