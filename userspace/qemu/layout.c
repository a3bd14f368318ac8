// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU's guest RAM: backends from QMP, guest-physical placement from
 * "info mtree", QEMU's mappings from /proc/PID/maps.
 *
 * Placement.  query-memory-devices does not list boot RAM, and the split
 * of a pc/q35 guest's RAM around the PCI hole (at 3 GiB or 3.5 GiB on pc,
 * 2 GiB or 2.75 GiB on q35, or max-ram-below-4g) depends on the machine
 * type, its version and its options.  So nothing is computed here: QEMU's
 * own memory tree says it.  In the "memory" address space the machine maps
 * its RAM with the aliases ram-below-4g and ram-above-4g, into one backend
 * (-machine memory-backend=) or into a container holding one backend per
 * NUMA node in node order; memory devices (pc-dimm) map their backend
 * directly.  Each backend byte must land at exactly one guest-physical
 * address, or the layout is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "layout.h"

#define MQ_PAGE	4096ULL

/* ----- info mtree ----------------------------------------------------------- */

struct mq_mt_line {
	int indent;
	uint64_t start, end;		/* inclusive, as printed */
	bool alias, disabled;
	char name[256];
	char target[256];		/* alias only */
	uint64_t tstart, tend;		/* alias only: the range in the target */
};

static bool mq_mt_parse(const char *line, struct mq_mt_line *m)
{
	char type[64];
	const char *rest;
	int prio, pos = 0;

	memset(m, 0, sizeof(*m));
	while (line[m->indent] == ' ')
		m->indent++;
	if (sscanf(line, " %" SCNx64 "-%" SCNx64 " (prio %d, %63[^)]): %n",
		   &m->start, &m->end, &prio, type, &pos) != 4 || !pos)
		return false;
	rest = line + pos;
	m->disabled = strstr(rest, "[disabled]") != NULL;
	if (!strncmp(rest, "alias ", 6)) {
		m->alias = true;
		return sscanf(rest + 6, "%255s @%255s %" SCNx64 "-%" SCNx64,
			      m->name, m->target, &m->tstart, &m->tend) == 4;
	}
	return sscanf(rest, "%255s", m->name) == 1;
}

/* The lines of the section headed @header ("address-space: memory"). */
static const char *mq_mt_section(const char *text, const char *header)
{
	size_t hl = strlen(header);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, header, hl) && (p[hl] == '\n' || p[hl] == '\r'))
			return strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Copy the next line of a section into @buf; false at its end (a blank line). */
static bool mq_mt_next(const char **p, char *buf, size_t size)
{
	const char *nl;
	size_t n;

	if (!*p || !**p)
		return false;
	/* Several address spaces can share one tree: skip their headers. */
	while (!strncmp(*p, "address-space: ", 15)) {
		*p = strchr(*p, '\n');
		if (!*p)
			return false;
		(*p)++;
	}
	nl = strchr(*p, '\n');
	n = nl ? (size_t)(nl - *p) : strlen(*p);
	if (n && (*p)[n - 1] == '\r')
		n--;
	if (!n || (*p)[0] != ' ')
		return false;
	if (n >= size)
		n = size - 1;
	memcpy(buf, *p, n);
	buf[n] = 0;
	*p = nl ? nl + 1 : *p + strlen(*p);
	return true;
}

static int mq_backend_index(const struct mq_layout *l, const char *id)
{
	unsigned int i;

	for (i = 0; i < l->nbackends; i++)
		if (!strcmp(l->b[i].id, id))
			return (int)i;
	return -1;
}

static int mq_add_region(struct mq_layout *l, unsigned int b, uint64_t offset,
			 uint64_t gpa, uint64_t len)
{
	if (l->nregions == MQ_MAX_REGIONS)
		return mq_fail(E2BIG, "guest RAM in more than %d pieces", MQ_MAX_REGIONS);
	l->r[l->nregions++] = (struct mq_region){
		.backend = b, .offset = offset, .gpa = gpa, .len = len,
	};
	l->b[b].ram = true;
	return 0;
}

/*
 * Alias @a maps [tstart, tend] of container @a->target at @a->start: the
 * backends the container holds, by the container's own tree.
 */
static int mq_mt_container(const char *mtree, struct mq_layout *l, const struct mq_mt_line *a)
{
	char header[300], line[1024];
	unsigned int before = l->nregions;
	const char *p;
	struct mq_mt_line m;
	int b, err;

	snprintf(header, sizeof(header), "memory-region: %s", a->target);
	p = mq_mt_section(mtree, header);
	while (mq_mt_next(&p, line, sizeof(line))) {
		uint64_t lo, hi;

		if (!mq_mt_parse(line, &m) || m.alias || m.disabled ||
		    (b = mq_backend_index(l, m.name)) < 0)
			continue;
		lo = m.start > a->tstart ? m.start : a->tstart;
		hi = m.end < a->tend ? m.end : a->tend;
		if (lo > hi)
			continue;
		err = mq_add_region(l, b, lo - m.start, a->start + (lo - a->tstart), hi - lo + 1);
		if (err)
			return err;
	}
	if (l->nregions == before)
		return mq_fail(EINVAL, "guest RAM (%s, into %s) is not in a memory backend: give it one with -object memory-backend-file,...,share=on and -machine memory-backend= or -numa node,memdev=",
			       a->name, a->target);
	return 0;
}

static int mq_region_cmp(const void *a, const void *b)
{
	const struct mq_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sorted, not overlapping, every RAM backend covered once, nothing unaligned. */
static int mq_check_regions(struct mq_layout *l)
{
	uint64_t covered[MQ_MAX_BACKENDS] = { 0 };
	unsigned int i, j;

	qsort(l->r, l->nregions, sizeof(l->r[0]), mq_region_cmp);
	for (i = 0; i < l->nregions; i++) {
		const struct mq_region *r = &l->r[i];

		if (r->gpa % MQ_PAGE || r->len % MQ_PAGE || r->offset % MQ_PAGE ||
		    r->offset + r->len > l->b[r->backend].size)
			return mq_fail(EINVAL, "backend %s at guest-physical %#" PRIx64 ": not page aligned or beyond its size",
				       l->b[r->backend].id, r->gpa);
		if (i && l->r[i - 1].gpa + l->r[i - 1].len > r->gpa)
			return mq_fail(EINVAL, "guest RAM overlaps itself at guest-physical %#" PRIx64,
				       r->gpa);
		for (j = 0; j < i; j++)
			if (l->r[j].backend == r->backend && r->offset < l->r[j].offset + l->r[j].len &&
			    l->r[j].offset < r->offset + r->len)
				return mq_fail(EINVAL, "bytes %#" PRIx64 "-%#" PRIx64 " of backend %s appear twice in guest-physical memory",
					       r->offset, r->offset + r->len - 1, l->b[r->backend].id);
		covered[r->backend] += r->len;
	}
	for (i = 0; i < l->nbackends; i++)
		if (l->b[i].ram && covered[i] != l->b[i].size)
			return mq_fail(EINVAL, "only %" PRIu64 " of the %" PRIu64 " bytes of backend %s are mapped in guest-physical memory: cannot place the rest",
				       covered[i], l->b[i].size, l->b[i].id);
	if (!l->nregions)
		return mq_fail(EINVAL, "no guest RAM from a memory backend found in QEMU's memory tree (is the RAM a -object memory-backend-* given with -machine memory-backend= or -numa node,memdev=?)");
	return 0;
}

int mq_mtree_regions(const char *mtree, struct mq_layout *l)
{
	const char *p = mq_mt_section(mtree, "address-space: memory");
	struct mq_mt_line m;
	char line[1024];
	int b, err = 0;

	l->nregions = 0;
	if (!p)
		return mq_fail(EINVAL, "QEMU's memory tree has no address space \"memory\"");
	while (!err && mq_mt_next(&p, line, sizeof(line))) {
		if (!mq_mt_parse(line, &m) || m.disabled)
			continue;
		if (m.alias && (!strcmp(m.name, "ram-below-4g") || !strcmp(m.name, "ram-above-4g"))) {
			if (m.tend - m.tstart != m.end - m.start)
				err = mq_fail(EINVAL, "alias %s: sizes disagree", m.name);
			else if ((b = mq_backend_index(l, m.target)) >= 0)
				err = mq_add_region(l, b, m.tstart, m.start, m.end - m.start + 1);
			else
				err = mq_mt_container(mtree, l, &m);
		} else if (!m.alias && (b = mq_backend_index(l, m.name)) >= 0) {
			/* A memory device (pc-dimm): the backend itself. */
			err = mq_add_region(l, b, 0, m.start, m.end - m.start + 1);
		}
	}
	return err ? err : mq_check_regions(l);
}

/* ----- /proc/PID/maps -------------------------------------------------------- */

bool mq_maps_parse_line(const char *line, struct mq_vma *v)
{
	char perms[8];
	int pos = 0;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 "%n",
		   &v->start, &v->end, perms, &v->offset, &v->dev_major, &v->dev_minor,
		   &v->ino, &pos) != 7)
		return false;
	v->shared = perms[3] == 's';
	line += pos;
	while (*line == ' ')
		line++;
	snprintf(v->path, sizeof(v->path), "%s", line);
	n = strlen(v->path);
	while (n && (v->path[n - 1] == '\n' || v->path[n - 1] == '\r'))
		v->path[--n] = 0;
	return true;
}

static bool mq_vma_matches(const struct mq_vma *v, const struct mq_backend *b, bool by_inode,
			   unsigned int maj, unsigned int min, uint64_t ino)
{
	char prefix[1200];
	size_t n;

	if (!v->shared)
		return false;
	if (by_inode)
		return v->ino == ino && v->dev_major == maj && v->dev_minor == min;
	/* A mem-path directory: QEMU's unlinked DIR/qemu_back_mem.ID.XXXXXX */
	snprintf(prefix, sizeof(prefix), "%s/qemu_back_mem.%s.", b->mem_path, b->id);
	n = strlen(v->path);
	return !strncmp(v->path, prefix, strlen(prefix)) && n > 10 &&
	       !strcmp(v->path + n - 10, " (deleted)");
}

/* A run of mappings of the backend's file ended: is it the whole backend? */
static void mq_run_end(const struct mq_backend *b, struct mq_vma *run, bool *in_run,
		       unsigned int *runs, struct mq_vma *found)
{
	if (*in_run && run->end - run->start == b->size) {
		*found = *run;
		(*runs)++;
	}
	*in_run = false;
}

int mq_maps_find(const char *maps, const struct mq_backend *b, bool by_inode,
		 unsigned int dev_major, unsigned int dev_minor, uint64_t ino,
		 struct mq_vma *found)
{
	struct mq_vma v, run = { 0 };
	const char *p = maps;
	unsigned int runs = 0;
	char line[1200];
	bool in_run = false;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = 0;
		p = nl ? nl + 1 : NULL;
		if (!mq_maps_parse_line(line, &v) ||
		    !mq_vma_matches(&v, b, by_inode, dev_major, dev_minor, ino)) {
			mq_run_end(b, &run, &in_run, &runs, found);
			continue;
		}
		/* A mapping split in pieces (mprotect, madvise): one run. */
		if (in_run && v.start == run.end && v.offset == run.offset + (run.end - run.start)) {
			run.end = v.end;
			continue;
		}
		mq_run_end(b, &run, &in_run, &runs, found);
		run = v;
		in_run = true;
	}
	mq_run_end(b, &run, &in_run, &runs, found);
	if (runs == 1)
		return 0;
	if (!runs)
		return mq_fail(ENOENT, "no shared mapping of backend %s's file of %" PRIu64 " bytes",
			       b->id, b->size);
	return mq_fail(EINVAL, "QEMU maps backend %s's file %u times: cannot tell which is guest RAM",
		       b->id, runs);
}

/* ----- QMP: the backends --------------------------------------------------------- */

static const char *mq_jstr(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

static int mq_query_memdev(struct mq_qmp *q, struct mq_layout *l)
{
	json_object *ret, *e, *v;
	size_t i, n;
	int err = mq_qmp_exec(q, "query-memdev", NULL, -1, &ret);

	if (err)
		return err;
	n = json_object_array_length(ret);
	if (n > MQ_MAX_BACKENDS) {
		json_object_put(ret);
		return mq_fail(E2BIG, "QEMU has %zu memory backends: at most %d", n, MQ_MAX_BACKENDS);
	}
	for (i = 0; i < n; i++) {
		struct mq_backend *b = &l->b[l->nbackends];

		e = json_object_array_get_idx(ret, i);
		memset(b, 0, sizeof(*b));
		b->fd = -1;
		snprintf(b->id, sizeof(b->id), "%s", mq_jstr(e, "id") ? mq_jstr(e, "id") : "");
		if (json_object_object_get_ex(e, "size", &v))
			b->size = (uint64_t)json_object_get_int64(v);
		if (json_object_object_get_ex(e, "share", &v))
			b->share = json_object_get_boolean(v);
		if (b->id[0])
			l->nbackends++;
	}
	json_object_put(ret);
	return 0;
}

/* Each backend's QOM type ("child<memory-backend-file>") and mem-path. */
static int mq_backend_types(struct mq_qmp *q, struct mq_layout *l)
{
	json_object *ret, *args = json_object_new_object(), *e;
	size_t i, n;
	int b, err;

	json_object_object_add(args, "path", json_object_new_string("/objects"));
	err = mq_qmp_exec(q, "qom-list", args, -1, &ret);
	if (err)
		return err;
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		const char *name, *type;

		e = json_object_array_get_idx(ret, i);
		name = mq_jstr(e, "name");
		type = mq_jstr(e, "type");
		if (!name || !type || (b = mq_backend_index(l, name)) < 0)
			continue;
		if (!strncmp(type, "child<", 6))
			type += 6;
		snprintf(l->b[b].type, sizeof(l->b[b].type), "%s", type);
		l->b[b].type[strcspn(l->b[b].type, ">")] = 0;
	}
	json_object_put(ret);
	for (b = 0; b < (int)l->nbackends; b++) {
		char path[128];

		if (strcmp(l->b[b].type, "memory-backend-file"))
			continue;
		args = json_object_new_object();
		snprintf(path, sizeof(path), "/objects/%s", l->b[b].id);
		json_object_object_add(args, "path", json_object_new_string(path));
		json_object_object_add(args, "property", json_object_new_string("mem-path"));
		err = mq_qmp_exec(q, "qom-get", args, -1, &ret);
		if (err)
			return err;
		snprintf(l->b[b].mem_path, sizeof(l->b[b].mem_path), "%s",
			 json_object_get_string(ret));
		json_object_put(ret);
	}
	return 0;
}

static void mq_warn(struct mq_layout *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mq_warn(struct mq_layout *l, const char *fmt, ...)
{
	size_t n = strlen(l->warnings);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->warnings + n, sizeof(l->warnings) - n, fmt, ap);
	va_end(ap);
	n = strlen(l->warnings);
	if (n + 1 < sizeof(l->warnings))
		strcat(l->warnings, "\n");
}

/* Guest RAM migsend can carry: shared, and a named file (x-ignore-shared). */
static int mq_check_backends(struct mq_layout *l)
{
	unsigned int i;

	for (i = 0; i < l->nbackends; i++) {
		const struct mq_backend *b = &l->b[i];

		if (!b->ram) {
			if (b->share)
				mq_warn(l, "backend %s is shared but not guest RAM: with x-ignore-shared QEMU does not migrate it, and neither does migsend",
					b->id);
			continue;
		}
		if (!b->share)
			return mq_fail(EINVAL, "guest RAM backend %s is not share=on: QEMU would send it in its own stream (give it share=on)",
				       b->id);
		if (strcmp(b->type, "memory-backend-file"))
			return mq_fail(EOPNOTSUPP, "guest RAM backend %s is a %s: QEMU 8.1 and later leave only memory-backend-file RAM (a named file) to someone else with x-ignore-shared, so migsend carries only that (use memory-backend-file with mem-path on /dev/shm or hugetlbfs)",
				       b->id, b->type[0] ? b->type : "backend of unknown type");
	}
	return 0;
}

/* ----- QEMU's mappings --------------------------------------------------------------- */

static char *mq_read_text(const char *path)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

/* The very file QEMU maps: /proc/PID/map_files, or the mem-path itself. */
static int mq_open_mapping(struct mq_layout *l, struct mq_backend *b, const struct mq_vma *v)
{
	char path[128];
	struct stat st;
	struct statfs sf;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, l->pid,
		 v->start, v->end);
	b->fd = open(path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0 && (errno == EPERM || errno == EACCES) && b->mem_path[0])
		b->fd = open(b->mem_path, O_RDWR | O_CLOEXEC);
	if (b->fd < 0)
		return mq_fail(errno, "opening backend %s's file (%s)", b->id, path);
	if (fstat(b->fd, &st) || st.st_ino != v->ino ||
	    major(st.st_dev) != v->dev_major || minor(st.st_dev) != v->dev_minor)
		return mq_fail(ESTALE, "backend %s: the file opened is not the one QEMU maps", b->id);
	if ((uint64_t)st.st_size < v->offset + b->size)
		return mq_fail(EINVAL, "backend %s: its file is shorter than the backend", b->id);
	b->hva = v->start;
	b->file_offset = v->offset;
	b->page_size = MQ_PAGE;
	if (!fstatfs(b->fd, &sf) && sf.f_type == HUGETLBFS_MAGIC) {
		b->hugetlb = true;
		b->page_size = sf.f_bsize;
	}
	return 0;
}

static int mq_find_mappings(struct mq_layout *l)
{
	char path[64];
	char *maps;
	unsigned int i;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", l->pid);
	maps = mq_read_text(path);
	if (!maps)
		return mq_fail(errno ? errno : ENOMEM, "reading %s", path);
	for (i = 0; !err && i < l->nbackends; i++) {
		struct mq_backend *b = &l->b[i];
		struct mq_vma v;
		struct stat st;
		bool by_inode;

		if (!b->ram)
			continue;
		if (stat(b->mem_path, &st)) {
			err = mq_fail(errno, "backend %s: its mem-path %s", b->id, b->mem_path);
			break;
		}
		by_inode = S_ISREG(st.st_mode);
		err = mq_maps_find(maps, b, by_inode, major(st.st_dev), minor(st.st_dev), st.st_ino, &v);
		if (err == -ENOENT)
			err = mq_fail(ENOENT, "QEMU (pid %d) has no shared mapping of backend %s (%s) of %" PRIu64 " bytes",
				      l->pid, b->id, b->mem_path, b->size);
		if (!err)
			err = mq_open_mapping(l, b, &v);
	}
	free(maps);
	return err;
}

int mq_layout_discover(struct mq_qmp *q, struct mq_layout *l)
{
	char *mtree = NULL;
	int err;

	memset(l, 0, sizeof(*l));
	l->pid = mq_qmp_pid(q);
	err = mq_query_memdev(q, l);
	if (!err)
		err = mq_backend_types(q, l);
	if (!err)
		err = mq_qmp_hmp(q, "info mtree", &mtree);
	if (!err)
		err = mq_mtree_regions(mtree, l);
	free(mtree);
	if (!err)
		err = mq_check_backends(l);
	if (!err)
		err = mq_find_mappings(l);
	if (err)
		mq_layout_close(l);
	return err;
}

void mq_layout_close(struct mq_layout *l)
{
	unsigned int i;

	for (i = 0; i < l->nbackends; i++)
		if (l->b[i].fd >= 0) {
			close(l->b[i].fd);
			l->b[i].fd = -1;
		}
}

void mq_layout_span(const struct mq_layout *l, uint64_t *gpa, uint64_t *npages)
{
	const struct mq_region *last = &l->r[l->nregions - 1];

	*gpa = l->r[0].gpa;
	*npages = (last->gpa + last->len - l->r[0].gpa) / MQ_PAGE;
}

uint64_t mq_layout_bytes(const struct mq_layout *l)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < l->nregions; i++)
		sum += l->r[i].len;
	return sum;
}
