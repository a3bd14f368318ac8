// SPDX-License-Identifier: GPL-2.0
/*
 * migsend guest memory: regions backed by shmem (memfd, tmpfs) or
 * hugetlbfs files, and the page-cache lookups of the send path.
 *
 * Pages are looked up in the file's page cache, never through a mapping,
 * so that a hole (a page never written) is found without allocating it.
 * A run of holes is skipped with one xarray search.  A shmem page that is
 * swapped out (a value entry) is read back in; a page that is present but
 * not uptodate (fallocated, never written) reads as zero and counts as a
 * hole.  Large folios (shmem THP, hugetlbfs) are looked up once and their
 * pages taken from the cached folio.  Shmem folios come in batches: one
 * walk of the page cache returns those of a contiguous run, up to what the
 * dirty run asks for (15 folios on 6.1, 31 later), rather than one walk
 * from the xarray's root per 4 KiB page.
 */
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/xarray.h>

#include "compat.h"
#include "migsend.h"

int ms_mem_check_region(struct file *file, u64 offset, u64 len,
			struct ms_region *r)
{
	struct inode *inode = file_inode(file);
	unsigned long magic = inode->i_sb->s_magic;
	u64 gran;

	if (!S_ISREG(inode->i_mode))
		return -ENODEV;
	if (magic == TMPFS_MAGIC) {
		r->hugetlb = false;
		r->page_shift = PAGE_SHIFT;
		r->index_shift = PAGE_SHIFT;
	} else if (magic == HUGETLBFS_MAGIC) {
		r->hugetlb = true;
		r->page_shift = inode->i_blkbits;
		r->index_shift = MS_HUGETLB_INDEX_IN_BASE_PAGES ?
				 PAGE_SHIFT : inode->i_blkbits;
	} else {
		return -ENODEV;
	}
	if (!(file->f_mode & FMODE_READ))
		return -EACCES;
	gran = 1ULL << r->page_shift;
	if ((offset | len) & (gran - 1))
		return -EINVAL;
	if (offset + len > (u64)i_size_read(inode))
		return -ENXIO;
	return 0;
}

/* Drop the folios of the batch not handed out yet. */
static void ms_mem_drop_ahead(struct ms_conn *c)
{
	struct folio_batch *fb = &c->ahead;

	while (c->ahead_next < folio_batch_count(fb))
		folio_put(fb->folios[c->ahead_next++]);
	folio_batch_init(fb);
	c->ahead_next = 0;
	c->ahead_region = NULL;
}

/* Drop the cached folio, if any. */
static void ms_mem_put_folio(struct ms_conn *c)
{
	if (c->folio) {
		folio_put(c->folio);
		c->folio = NULL;
	}
}

void ms_mem_release(struct ms_conn *c)
{
	ms_mem_put_folio(c);
	ms_mem_drop_ahead(c);
}

/* Page-cache index of the file page (base or huge) holding @off. */
static pgoff_t ms_mem_index(const struct ms_region *r, u64 off)
{
	return (off & ~((1ULL << r->page_shift) - 1)) >> r->index_shift;
}

/*
 * Number of hole pages (at most @max) from @off, or 0 when the page at
 * @off has an entry (a folio or a swap entry) in the page cache.
 */
static u64 ms_mem_holes(const struct ms_region *r, u64 off, u64 max)
{
	struct address_space *mapping = r->file->f_mapping;
	u64 last_off = off + ((max - 1) << PAGE_SHIFT);
	unsigned long index = ms_mem_index(r, off);
	u64 found_off;

	if (!xa_find(&mapping->i_pages, &index, ms_mem_index(r, last_off),
		     XA_PRESENT))
		return max;
	found_off = (u64)index << r->index_shift;
	if (found_off <= off)
		return 0;
	return min_t(u64, max, (found_off - off) >> PAGE_SHIFT);
}

/* A shmem page that is swapped out: read it back in. */
static struct folio *ms_mem_swapin(const struct ms_region *r, u64 off)
{
	struct address_space *mapping = r->file->f_mapping;
	pgoff_t index = off >> PAGE_SHIFT;
	struct page *page;

	if (r->hugetlb || !xa_is_value(xa_load(&mapping->i_pages, index)))
		return NULL;
	page = shmem_read_mapping_page_gfp(mapping, index,
					   mapping_gfp_mask(mapping));
	if (IS_ERR(page))
		return ERR_CAST(page);
	return page_folio(page);
}

/*
 * The batch's folio that holds shmem offset @off, its reference now the
 * caller's; NULL when the batch does not reach @off.  The folios before
 * it are dropped: a connection's offsets only grow within a run.
 */
static struct folio *ms_mem_take_ahead(struct ms_conn *c,
				       const struct ms_region *r, u64 off)
{
	struct folio_batch *fb = &c->ahead;
	pgoff_t index = off >> PAGE_SHIFT;

	if (c->ahead_region != r)
		return NULL;
	while (c->ahead_next < folio_batch_count(fb)) {
		struct folio *folio = fb->folios[c->ahead_next];

		if (index < folio->index)
			return NULL;
		c->ahead_next++;
		if (index < folio_next_index(folio))
			return folio;
		folio_put(folio);
	}
	return NULL;
}

/*
 * Shmem: the folio at @off and those after it, up to @max_pages, from one
 * walk of the page cache.  It stops at the first hole or swapped-out
 * page; NULL when that is the page at @off.
 */
static struct folio *ms_mem_get_ahead(struct ms_conn *c,
				      const struct ms_region *r, u64 off,
				      u64 max_pages)
{
	pgoff_t index = off >> PAGE_SHIFT;

	ms_mem_drop_ahead(c);
	/* The end is computed from @index before the walk moves it on. */
	filemap_get_folios_contig(r->file->f_mapping, &index,
				  index + max_pages - 1, &c->ahead);
	c->ahead_region = r;
	return ms_mem_take_ahead(c, r, off);
}

/*
 * The folio holding @off, NULL for a hole.  Shmem's comes from the batch
 * or from a new walk that fills it.  When the walk does not return it (a
 * hole, a swapped-out page, a folio being freed as the walk met it), one
 * lookup of the page decides, as it does for hugetlbfs (one folio per
 * huge page).
 */
static struct folio *ms_mem_get_folio(struct ms_conn *c,
				      const struct ms_region *r, u64 off,
				      u64 max_pages)
{
	struct folio *folio;

	if (!r->hugetlb) {
		folio = ms_mem_take_ahead(c, r, off);
		if (!folio)
			folio = ms_mem_get_ahead(c, r, off, max_pages);
		if (folio)
			return folio;
	}
	/* NULL when absent up to 6.3, ERR_PTR(-ENOENT) from 6.4 on. */
	folio = filemap_get_folio(r->file->f_mapping, r->hugetlb ?
				  ms_mem_index(r, off) : off >> PAGE_SHIFT);
	if (IS_ERR_OR_NULL(folio))
		folio = ms_mem_swapin(r, off);
	return folio;
}

/*
 * Find the page at file offset @off of region @r, looking at most
 * @max_pages ahead.  Returns MS_PAGE_HOLE with *@hole_pages set (>= 1)
 * when @off starts a run of zero pages that are not in the page cache, or
 * MS_PAGE_PRESENT with *@page set; the page stays valid until the next
 * call or ms_mem_release() (the connection holds the folio).  Errors: EIO
 * when the page cache returns a folio that does not hold @off, or what
 * swapping in a page gave.
 */
int ms_mem_lookup(struct ms_conn *c, const struct ms_region *r, u64 off,
		  u64 max_pages, struct page **page, u64 *hole_pages)
{
	struct folio *folio = c->folio;
	u64 holes, folio_off;

	if (folio && c->folio_region == r && off >= c->folio_off &&
	    off - c->folio_off < c->folio_len)
		goto present;

	ms_mem_put_folio(c);
	/*
	 * The folio first: most dirty pages are present, and one page-cache
	 * walk finds them and those after them.  Only an absent page costs
	 * the search for how far its run of holes goes.
	 */
	folio = ms_mem_get_folio(c, r, off, max_pages);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (!folio) {
		/* At least this page: one may have come since the lookup. */
		holes = ms_mem_holes(r, off, max_pages);
		*hole_pages = holes ? holes : 1;
		return MS_PAGE_HOLE;
	}
	folio_off = (u64)folio->index << r->index_shift;
	if (off < folio_off || off - folio_off >= folio_size(folio)) {
		folio_put(folio);
		return -EIO;
	}
	if (!folio_test_uptodate(folio)) {
		/* Allocated (fallocate) but never written: reads as zero. */
		*hole_pages = min_t(u64, max_pages,
				    (folio_off + folio_size(folio) - off) >> PAGE_SHIFT);
		folio_put(folio);
		return MS_PAGE_HOLE;
	}
	c->folio = folio;
	c->folio_region = r;
	c->folio_off = folio_off;
	c->folio_len = folio_size(folio);
present:
	*page = folio_page(folio, (off - c->folio_off) >> PAGE_SHIFT);
	return MS_PAGE_PRESENT;
}
