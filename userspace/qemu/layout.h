/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a running QEMU keeps its guest RAM: the memory backends (QMP
 * query-memdev, qom-list, qom-get), where each sits in guest-physical
 * memory (HMP "info mtree": the ram-below-4g / ram-above-4g aliases and
 * what they point into), and QEMU's own mapping of each (/proc/PID/maps)
 * with a file descriptor of the very file QEMU maps
 * (/proc/PID/map_files).
 */
#ifndef MIGSEND_QEMU_LAYOUT_H
#define MIGSEND_QEMU_LAYOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "qmp.h"

#define MQ_MAX_BACKENDS	32
#define MQ_MAX_REGIONS	64

struct mq_backend {
	char id[64];
	char type[64];			/* memory-backend-file, -memfd, -ram */
	uint64_t size;
	bool share;
	char mem_path[1024];		/* memory-backend-file's, else "" */
	bool ram;			/* guest RAM (mapped in guest-physical memory) */
	/* QEMU's mapping of it, found in /proc/PID/maps: */
	uint64_t hva;
	uint64_t file_offset;		/* of the backend's first byte in its file */
	int fd;				/* that file, -1 until opened */
	bool hugetlb;
	uint64_t page_size;
};

/* [gpa, gpa + len) is bytes [offset, offset + len) of backend b[backend]. */
struct mq_region {
	unsigned int backend;
	uint64_t offset;
	uint64_t gpa;
	uint64_t len;
};

struct mq_layout {
	int pid;
	unsigned int nbackends;
	struct mq_backend b[MQ_MAX_BACKENDS];
	unsigned int nregions;
	struct mq_region r[MQ_MAX_REGIONS];	/* by gpa */
	char warnings[1024];		/* things worth telling, one per line */
};

/* One mapping line of /proc/PID/maps. */
struct mq_vma {
	uint64_t start, end, offset;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	bool shared;
	char path[1024];
};

/*
 * Pure parsers (tested on the host with QEMU's own output):
 * - mq_mtree_regions(): the regions of l->b[] in guest-physical memory,
 *   from "info mtree"; marks the backends that are guest RAM.  EINVAL with
 *   the reason when the layout cannot be placed exactly.
 * - mq_maps_parse_line(): one line of /proc/PID/maps.
 * - mq_maps_find(): QEMU's mapping of backend @b in @maps (the file's
 *   device and inode, or for a mem-path directory QEMU's unlinked
 *   temporary file "DIR/qemu_back_mem.ID.XXXXXX"): its start and the
 *   file offset, and the map_files name of it in @mf.
 */
int mq_mtree_regions(const char *mtree, struct mq_layout *l);
bool mq_maps_parse_line(const char *line, struct mq_vma *v);
int mq_maps_find(const char *maps, const struct mq_backend *b, bool by_inode,
		 unsigned int dev_major, unsigned int dev_minor, uint64_t ino,
		 struct mq_vma *found);

/*
 * Everything above for the QEMU behind @q: backends, regions, mappings,
 * fds.  Refuses (EINVAL, EOPNOTSUPP, with the reason in mq_error()) guest
 * RAM migsend cannot carry: not share=on, not memory-backend-file.
 */
int mq_layout_discover(struct mq_qmp *q, struct mq_layout *l);
void mq_layout_close(struct mq_layout *l);
/* The guest-physical range the regions span, in pages. */
void mq_layout_span(const struct mq_layout *l, uint64_t *gpa, uint64_t *npages);
uint64_t mq_layout_bytes(const struct mq_layout *l);

#endif /* MIGSEND_QEMU_LAYOUT_H */
