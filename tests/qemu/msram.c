// SPDX-License-Identifier: GPL-2.0
/*
 * msram: copy guest RAM between two QEMU RAM files, page by page, the way
 * a RAM transport outside QEMU would, to check the test harness's
 * x-ignore-shared path without migsend.
 *
 *   msram copy SRC DST [--drop N] [--drop-last N]
 *	Copies each 4 KiB page of SRC that differs from DST into DST, but
 *	leaves out the first N and the last N of the differing pages: part
 *	of a final pass lost, which the guest on the destination must
 *	notice.  Prints "copied C dropped D of P pages" and the indexes of
 *	the pages dropped (the first 16).
 *   msram diff A B
 *	Prints the number of 4 KiB pages that differ; exit 1 if any.
 *
 * Both files are mapped shared (hugetlbfs files cannot be written with
 * write(2)), so a running QEMU that maps DST sees the pages at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_LISTED 16	/* dropped pages named in the output */

struct ram {
	const char *path;
	unsigned char *mem;
	size_t size;
};

static int ram_map(struct ram *r, const char *path, int writable)
{
	struct stat st;
	int fd = open(path, writable ? O_RDWR : O_RDONLY);

	r->path = path;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "msram: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r->size = (size_t)st.st_size;
	r->mem = mmap(NULL, r->size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		      MAP_SHARED, fd, 0);
	close(fd);
	if (r->mem == MAP_FAILED) {
		fprintf(stderr, "msram: mmap %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int map_pair(struct ram *a, struct ram *b, char **argv, int writable)
{
	if (ram_map(a, argv[0], 0) || ram_map(b, argv[1], writable))
		return -1;
	if (a->size != b->size || a->size % PAGE) {
		fprintf(stderr, "msram: %s (%zu bytes) and %s (%zu bytes) do not match\n",
			a->path, a->size, b->path, b->size);
		return -1;
	}
	return 0;
}

/*
 * The pages that differ, in order; the first and the last ones dropped.
 * The last ones are counted from a first look: use them on a stopped
 * source only (a running one changes pages between the two looks).
 */
static int ram_copy(char **argv, size_t drop_first, size_t drop_last)
{
	struct ram src, dst;
	size_t off, differ = 0, seen = 0, copied = 0, dropped = 0;
	char list[MAX_LISTED * 12] = "";

	if (map_pair(&src, &dst, argv, 1))
		return 2;
	for (off = 0; off < src.size; off += PAGE)
		differ += memcmp(src.mem + off, dst.mem + off, PAGE) != 0;
	for (off = 0; off < src.size; off += PAGE) {
		if (!memcmp(src.mem + off, dst.mem + off, PAGE))
			continue;
		seen++;
		if (seen <= drop_first || (drop_last && seen + drop_last > differ)) {
			if (dropped < MAX_LISTED)
				snprintf(list + strlen(list), sizeof(list) - strlen(list),
					 " %zu", off / PAGE);
			dropped++;
			continue;
		}
		memcpy(dst.mem + off, src.mem + off, PAGE);
		copied++;
	}
	printf("copied %zu dropped %zu of %zu pages%s%s\n", copied, dropped, src.size / PAGE,
	       dropped ? ":" : "", list);
	return 0;
}

static int ram_diff(char **argv)
{
	struct ram a, b;
	size_t off, n = 0;

	if (map_pair(&a, &b, argv, 0))
		return 2;
	for (off = 0; off < a.size; off += PAGE)
		n += memcmp(a.mem + off, b.mem + off, PAGE) != 0;
	printf("%zu\n", n);
	return n ? 1 : 0;
}

int main(int argc, char **argv)
{
	size_t drop[2] = { 0, 0 };
	int i;

	if (argc == 4 && strcmp(argv[1], "diff") == 0)
		return ram_diff(argv + 2);
	if (argc < 4 || strcmp(argv[1], "copy") != 0)
		goto usage;
	for (i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--drop") == 0)
			drop[0] = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--drop-last") == 0)
			drop[1] = strtoul(argv[i + 1], NULL, 10);
		else
			goto usage;
	}
	if (i == argc)
		return ram_copy(argv + 2, drop[0], drop[1]);
usage:
	fprintf(stderr, "usage: msram copy SRC DST [--drop N] [--drop-last N]\n"
			"       msram diff A B\n");
	return 2;
}
