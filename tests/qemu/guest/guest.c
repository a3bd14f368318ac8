// SPDX-License-Identifier: GPL-2.0
/*
 * msguest: a freestanding multiboot guest that checks its own memory
 * across a live migration (docs/QEMU.md, "The test guest").
 *
 * It owns every usable page of RAM above its image, up to 4 GiB.  Each
 * page describes itself: word 0 is PAGE_MAGIC, word 1 its page frame
 * number, word 2 its generation, and the other words a pattern computed
 * from the three.  A table after the image keeps every page's current
 * generation.  The guest rewrites random pages with the next generation
 * at a steady rate (rate=) and rereads pages against the table at
 * another (verify=), so a page that a migration lost, kept stale or
 * mixed up does not match.
 *
 * A RAM copy that is older than the device state (a final pass lost
 * whole) has old pages and an old table that agree with each other; a
 * sequence number kept both in RAM and in the RTC's CMOS bytes, which
 * QEMU migrates with the device state, catches that: the guest compares
 * the two before every batch of writes.
 *
 * Output goes to the debugcon port (0xe9), one line per event:
 *   MSGUEST boot cmdline=<...>
 *   MSGUEST READY pages=<n> first=<pfn> last=<pfn> rate=<p/s> verify=<p/s> fill_ms=<ms>
 *   PROGRESS ms=<ms> seq=<n> dirtied=<n> verified=<n> sweeps=<n> bad=<n>
 *   SWEEP <k> OK|FAIL pages=<n> bad=<n>       (each full continuous sweep)
 *   SWEEP FAIL page <pfn> ...                  (a bad page, when found)
 *   SEQ FAIL ram=<n> device=<n>                (RAM older than device state)
 *   VERIFY OK <pages> seq=<n>                  (answer to 'V')
 *   VERIFY FAIL page <pfn> ...                 (up to 8 bad pages, then)
 *   VERIFY FAIL <bad> of <pages> pages bad, <k> seq mismatches seen
 *   EXCEPTION <vector> <word> <word>           (then it stops)
 * Input: bytes on COM1 (polled): 'V' verifies every page now and answers,
 * 'P' prints a PROGRESS line now.
 *
 * Command line (-append): rate=<pages/s> (default 1000), verify=<pages/s>
 * (default 4000), fill=<MiB> (own only the first MiB above the image:
 * the rest stays untouched), progress=<ms> (default 2000, 0 for none),
 * tlbflush=0 (never flush the TLB: see flush_tlb()).
 */
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define PAGE_SHIFT 12
#define PAGE_SIZE (1u << PAGE_SHIFT)
#define PAGE_WORDS (PAGE_SIZE / 4)
#define PAGE_MAGIC 0x4d534730u		/* "MSG0" */
#define PATTERN_STEP 0x9e3779b9u
#define HZ 250				/* timer ticks per second */
#define PIT_HZ 1193182u
#define MAX_REGIONS 16
#define MAX_REPORTED 8			/* bad pages printed per check */
#define CMOS_SEQ 0x78			/* 4 free CMOS bytes: 0x78-0x7b */
#define COM1 0x3f8
#define DEBUGCON 0xe9
#define MB_BOOT_MAGIC 0x2badb002u
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MMAP (1u << 6)

struct mb_info {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline;
	u32 mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};

struct mb_mmap {
	u32 size;
	u64 addr, len;
	u32 type;
} __attribute__((packed));

struct region {
	u32 first, end;		/* page frames [first, end) */
};

struct idt_entry {
	u16 off_lo, sel;
	u8 zero, type;
	u16 off_hi;
} __attribute__((packed));

struct idt_desc {
	u16 limit;
	u32 base;
} __attribute__((packed));

extern char _end[];
extern const u32 exc_stubs[20];
void irq_timer(void);
void irq_spurious(void);
void guest_main(u32 magic, const struct mb_info *mbi);
/*
 * Flush the TLB, as an operating system's context switches do all the
 * time.  QEMU's TCG marks a page dirty for its own migration only when a
 * write misses its software TLB; without flushes a page written again
 * and again keeps its TLB entry and is missed after the first dirty-log
 * sync (docs/QEMU.md).  Paging is off: toggling CR4.PGE flushes.
 */
static void flush_tlb(void)
{
	u32 cr4;

	asm volatile("mov %%cr4, %0" : "=r"(cr4));
	asm volatile("mov %0, %%cr4" : : "r"(cr4 ^ 0x80) : "memory");
	asm volatile("mov %0, %%cr4" : : "r"(cr4) : "memory");
}

void guest_exception(u32 vector, u32 w1, u32 w2);

volatile u32 ticks;			/* incremented by irq_timer */

static struct idt_entry idt[256];
static struct region regions[MAX_REGIONS];
static u32 nregions;
static u32 npages;			/* pages owned, over all regions */
static u32 *gen;			/* generation of each page, by frame */
static char cmdline[256];
static u32 rate = 1000, verify_rate = 4000, fill_mib, progress_ms = 2000;
static u32 tlbflush = 1;

/* The sequence number kept in RAM; its twin lives in CMOS. */
static volatile u32 ram_seq;

static u64 dirtied, verified;
static u32 sweeps, sweep_bad, bad_total, seq_fails, vcursor;

/* ----- ports, output ---------------------------------------------------- */

static inline void outb(u16 port, u8 v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void put_char(char c)
{
	outb(DEBUGCON, (u8)c);
}

static void put_str(const char *s)
{
	while (*s)
		put_char(*s++);
}

/* 64 by 32 bit division with the CPU's divl: no libgcc. */
static u64 div64(u64 n, u32 d, u32 *rem)
{
	u32 hi = (u32)(n >> 32), lo = (u32)n, qhi = hi / d, r = hi % d, qlo;

	asm("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
	if (rem)
		*rem = r;
	return ((u64)qhi << 32) | qlo;
}

static void put_u64(u64 v)
{
	char buf[21];
	int i = 20;
	u32 r;

	buf[i] = 0;
	do {
		v = div64(v, 10, &r);
		buf[--i] = (char)('0' + r);
	} while (v);
	put_str(buf + i);
}

static void put_hex(u32 v)
{
	int i;

	put_str("0x");
	for (i = 28; i >= 0; i -= 4)
		put_char("0123456789abcdef"[(v >> i) & 15]);
}

/* "key=<num> " pairs printed in one go keep the lines regular. */
static void put_kv(const char *key, u64 v)
{
	put_char(' ');
	put_str(key);
	put_char('=');
	put_u64(v);
}

static u32 now_ms(void)
{
	return ticks * (1000 / HZ);
}

/* ----- command line, memory map --------------------------------------- */

static u32 parse_num(const char *s)
{
	u32 v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (u32)(*s++ - '0');
	return v;
}

/* The value of "key=" in the command line, or def. */
static u32 cmdline_num(const char *key, u32 def)
{
	const char *p = cmdline;

	while (*p) {
		const char *k = key, *q = p;

		while (*k && *q == *k) {
			k++;
			q++;
		}
		if (!*k && *q == '=' && (p == cmdline || p[-1] == ' '))
			return parse_num(q + 1);
		p++;
	}
	return def;
}

static void read_cmdline(const struct mb_info *mbi)
{
	const char *s;
	u32 i = 0;

	if (mbi->flags & MB_INFO_CMDLINE) {
		s = (const char *)mbi->cmdline;
		while (s[i] && i < sizeof(cmdline) - 1) {
			cmdline[i] = s[i];
			i++;
		}
	}
	cmdline[i] = 0;
	rate = cmdline_num("rate", rate);
	verify_rate = cmdline_num("verify", verify_rate);
	fill_mib = cmdline_num("fill", 0);
	progress_ms = cmdline_num("progress", progress_ms);
	tlbflush = cmdline_num("tlbflush", tlbflush);
}

/*
 * The usable RAM below 4 GiB as page-frame ranges, from the loader's
 * memory map (the BIOS's e820), copied before anything is overwritten.
 */
static u32 read_memory_map(const struct mb_info *mbi)
{
	u32 off = 0, top = 0;

	if (!(mbi->flags & MB_INFO_MMAP))
		return 0;
	while (off < mbi->mmap_length && nregions < MAX_REGIONS) {
		const struct mb_mmap *m = (const void *)(mbi->mmap_addr + off);
		u64 start = (m->addr + PAGE_SIZE - 1) >> PAGE_SHIFT;
		u64 end = (m->addr + m->len) >> PAGE_SHIFT;

		off += m->size + 4;
		if (m->type != 1 || start >= (1ull << 20))
			continue;
		if (end > (1ull << 20))
			end = 1ull << 20;
		if (end <= start)
			continue;
		regions[nregions].first = (u32)start;
		regions[nregions].end = (u32)end;
		nregions++;
		if (end > top)
			top = (u32)end;
	}
	return top;
}

/* Keep only frames in [first, limit): above the table, within fill=. */
static void clip_regions(u32 first, u32 limit)
{
	u32 i, n = 0;

	npages = 0;
	for (i = 0; i < nregions; i++) {
		struct region r = regions[i];

		if (r.first < first)
			r.first = first;
		if (limit && r.end > limit)
			r.end = limit;
		if (r.end <= r.first)
			continue;
		regions[n++] = r;
		npages += r.end - r.first;
	}
	nregions = n;
}

/* The page frame of the i-th owned page. */
static u32 page_frame(u32 i)
{
	u32 r;

	for (r = 0; r < nregions; r++) {
		u32 len = regions[r].end - regions[r].first;

		if (i < len)
			return regions[r].first + i;
		i -= len;
	}
	return 0;
}

/* ----- the page pattern ----------------------------------------------- */

static u32 mix(u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static u32 page_seed(u32 pfn, u32 g)
{
	return mix(pfn * PATTERN_STEP ^ mix(g));
}

static void write_page(u32 pfn, u32 g)
{
	u32 *p = (u32 *)(pfn << PAGE_SHIFT);
	u32 v = page_seed(pfn, g), i;

	p[0] = PAGE_MAGIC;
	p[1] = pfn;
	p[2] = g;
	for (i = 3; i < PAGE_WORDS; i++) {
		v += PATTERN_STEP;
		p[i] = v;
	}
}

/* The first word that differs from what the table says, or 0. */
static u32 check_page(u32 pfn)
{
	const volatile u32 *p = (const u32 *)(pfn << PAGE_SHIFT);
	u32 g = gen[pfn], v = page_seed(pfn, g), i;

	if (p[0] != PAGE_MAGIC)
		return 1;
	if (p[1] != pfn)
		return 2;
	if (p[2] != g)
		return 3;
	for (i = 3; i < PAGE_WORDS; i++) {
		v += PATTERN_STEP;
		if (p[i] != v)
			return i + 1;
	}
	return 0;
}

static void report_bad_page(const char *what, u32 pfn, u32 word)
{
	const u32 *p = (const u32 *)(pfn << PAGE_SHIFT);

	put_str(what);
	put_str(" page ");
	put_u64(pfn);
	put_kv("want_gen", gen[pfn]);
	put_str(" got magic ");
	put_hex(p[0]);
	put_kv("pfn", p[1]);
	put_kv("gen", p[2]);
	put_kv("word", word - 1);
	put_char('\n');
}

/* ----- devices ---------------------------------------------------------- */

static u8 cmos_read(u8 idx)
{
	outb(0x70, 0x80 | idx);
	return inb(0x71);
}

static void cmos_write(u8 idx, u8 v)
{
	outb(0x70, 0x80 | idx);
	outb(0x71, v);
}

static u32 cmos_seq(void)
{
	u32 v = 0;
	int i;

	for (i = 3; i >= 0; i--)
		v = v << 8 | cmos_read((u8)(CMOS_SEQ + i));
	return v;
}

static void set_cmos_seq(u32 v)
{
	int i;

	for (i = 0; i < 4; i++)
		cmos_write((u8)(CMOS_SEQ + i), (u8)(v >> (8 * i)));
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no UART interrupts: polled */
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);
	outb(COM1 + 4, 0x03);
}

/* A byte from COM1, or -1 (none, or no UART: its status reads 0xff). */
static int serial_getc(void)
{
	u8 lsr = inb(COM1 + 5);

	if (lsr == 0xff || !(lsr & 1))
		return -1;
	return inb(COM1);
}

static void set_gate(u32 vec, void (*fn)(void))
{
	u32 a = (u32)fn;
	u16 cs;

	asm("mov %%cs, %0" : "=r"(cs));
	idt[vec].off_lo = (u16)a;
	idt[vec].sel = cs;
	idt[vec].zero = 0;
	idt[vec].type = 0x8e;
	idt[vec].off_hi = (u16)(a >> 16);
}

/*
 * The local APIC passes the 8259's interrupts on (LINT0 as ExtINT), as
 * SeaBIOS leaves it but a minimal firmware (qboot) does not.
 */
static void lapic_pass_pic(void)
{
	volatile u32 *lapic = (volatile u32 *)0xfee00000;

	lapic[0xf0 / 4] = 0x1ff;	/* enabled, spurious vector 0xff */
	lapic[0x350 / 4] = 0x700;	/* LINT0: ExtINT */
	lapic[0x360 / 4] = 0x400;	/* LINT1: NMI */
}

/* PIC remapped to 0x20/0x28 with only IRQ 0 open, PIT at HZ. */
static void timer_init(void)
{
	struct idt_desc d = { sizeof(idt) - 1, (u32)idt };
	u32 i, div = PIT_HZ / HZ;

	for (i = 0; i < 20; i++)
		set_gate(i, (void (*)(void))exc_stubs[i]);
	set_gate(0x20, irq_timer);
	set_gate(0x27, irq_spurious);
	set_gate(0x2f, irq_spurious);
	set_gate(0xff, irq_spurious);
	asm volatile("lidt %0" : : "m"(d));
	lapic_pass_pic();

	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xfe);
	outb(0xa1, 0xff);

	outb(0x43, 0x34);
	outb(0x40, (u8)div);
	outb(0x40, (u8)(div >> 8));
	asm volatile("sti");
}

void guest_exception(u32 vector, u32 w1, u32 w2)
{
	put_str("EXCEPTION ");
	put_u64(vector);
	put_char(' ');
	put_hex(w1);
	put_char(' ');
	put_hex(w2);
	put_char('\n');
}

/* ----- the work --------------------------------------------------------- */

static void progress(void)
{
	put_str("PROGRESS");
	put_kv("ms", now_ms());
	put_kv("seq", ram_seq);
	put_kv("dirtied", dirtied);
	put_kv("verified", verified);
	put_kv("sweeps", sweeps);
	put_kv("bad", bad_total);
	put_char('\n');
}

/* RAM and device state must be of the same moment. */
static void check_seq(void)
{
	u32 dev = cmos_seq(), ram = ram_seq;

	if (dev == ram)
		return;
	put_str("SEQ FAIL");
	put_kv("ram", ram);
	put_kv("device", dev);
	put_char('\n');
	seq_fails++;
	ram_seq = dev;
}

/*
 * The random state is the caller's, on the stack: kept with the
 * variables, a copy of that page older than the rest would make the
 * guest rewrite the very pages it wrote since, in the same order, and
 * so hide them if they are stale too.
 */
static void dirty_pages(u32 n, u32 *rng)
{
	u32 seq = ram_seq;

	while (n--) {
		u32 pfn;

		*rng = *rng * 1664525u + 1013904223u;
		pfn = page_frame(mix(*rng) % npages);
		write_page(pfn, gen[pfn] + 1);
		gen[pfn]++;
		dirtied++;
	}
	ram_seq = seq + 1;
	set_cmos_seq(seq + 1);
}

static void verify_step(u32 n)
{
	while (n--) {
		u32 pfn = page_frame(vcursor), w = check_page(pfn);

		verified++;
		if (w) {
			if (sweep_bad < MAX_REPORTED)
				report_bad_page("SWEEP FAIL", pfn, w);
			sweep_bad++;
			bad_total++;
		}
		if (++vcursor < npages)
			continue;
		vcursor = 0;
		sweeps++;
		put_str("SWEEP ");
		put_u64(sweeps);
		put_str(sweep_bad ? " FAIL" : " OK");
		put_kv("pages", npages);
		put_kv("bad", sweep_bad);
		put_char('\n');
		sweep_bad = 0;
	}
}

/* The answer to 'V': every page, now. */
static void verify_all(void)
{
	u32 i, bad = 0;

	check_seq();
	for (i = 0; i < npages; i++) {
		u32 pfn = page_frame(i), w = check_page(pfn);

		if (!w)
			continue;
		if (bad < MAX_REPORTED)
			report_bad_page("VERIFY FAIL", pfn, w);
		bad++;
	}
	bad_total += bad;
	if (!bad && !seq_fails) {
		put_str("VERIFY OK ");
		put_u64(npages);
		put_kv("seq", ram_seq);
		put_char('\n');
		return;
	}
	put_str("VERIFY FAIL ");
	put_u64(bad);
	put_str(" of ");
	put_u64(npages);
	put_str(" pages bad, ");
	put_u64(seq_fails);
	put_str(" seq mismatches seen\n");
}

static void fill(void)
{
	u32 i, t0 = now_ms();

	for (i = 0; i < npages; i++) {
		u32 pfn = page_frame(i);

		write_page(pfn, 1);
		gen[pfn] = 1;
	}
	ram_seq = 0;
	set_cmos_seq(0);
	put_str("MSGUEST READY");
	put_kv("pages", npages);
	put_kv("first", regions[0].first);
	put_kv("last", regions[nregions - 1].end - 1);
	put_kv("rate", rate);
	put_kv("verify", verify_rate);
	put_kv("fill_ms", now_ms() - t0);
	put_char('\n');
}

/* Work due per tick, with the remainder carried: no division per tick. */
struct pacer {
	u32 per_s, acc, due;
};

static void pace(struct pacer *p, u32 elapsed_ticks)
{
	/* A second at most: after a stale RAM copy it may be anything. */
	if (elapsed_ticks > HZ)
		elapsed_ticks = HZ;
	while (elapsed_ticks--) {
		p->acc += p->per_s;
		p->due += p->acc / HZ;
		p->acc %= HZ;
	}
	/* A backlog (a busy host, a long verify) is dropped, not burst. */
	if (p->due > p->per_s / 4 + 16)
		p->due = p->per_s / 4 + 16;
}

static void run(void)
{
	struct pacer d = { rate, 0, 0 }, v = { verify_rate, 0, 0 };
	u32 last = ticks, next_progress = now_ms() + progress_ms, rng = 0x12345678;

	for (;;) {
		u32 t = ticks, n;
		int c;

		if (t != last && tlbflush)
			flush_tlb();
		pace(&d, t - last);
		pace(&v, t - last);
		last = t;
		while ((c = serial_getc()) >= 0) {
			if (c == 'V')
				verify_all();
			else if (c == 'P')
				progress();
		}
		check_seq();
		n = d.due < 64 ? d.due : 64;
		if (n) {
			dirty_pages(n, &rng);
			d.due -= n;
		}
		n = v.due < 64 ? v.due : 64;
		if (n) {
			verify_step(n);
			v.due -= n;
		}
		if (progress_ms && (int)(now_ms() - next_progress) >= 0) {
			progress();
			next_progress += progress_ms;
		}
		if (!d.due && !v.due)
			asm volatile("hlt");
	}
}

void guest_main(u32 magic, const struct mb_info *mbi)
{
	u32 top, first, limit = 0;

	put_str("MSGUEST boot");
	if (magic != MB_BOOT_MAGIC) {
		put_str(": not booted by a multiboot loader\n");
		return;
	}
	read_cmdline(mbi);
	put_str(" cmdline=");
	put_str(cmdline);
	put_char('\n');
	top = read_memory_map(mbi);

	/* The generation table right after the image, then the pages. */
	gen = (u32 *)_end;
	first = ((u32)_end + top * 4 + PAGE_SIZE - 1) >> PAGE_SHIFT;
	if (fill_mib)
		limit = first + (fill_mib << (20 - PAGE_SHIFT));
	clip_regions(first, limit);
	if (!npages) {
		put_str("MSGUEST no usable memory above the image\n");
		return;
	}
	serial_init();
	timer_init();
	fill();
	run();
}
