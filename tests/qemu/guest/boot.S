/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Multiboot (v1) entry of the test guest, and its interrupt stubs.
 * QEMU's -kernel loader enters _start in 32-bit protected mode with flat
 * segments, paging and interrupts off, EAX = the multiboot magic and
 * EBX = the multiboot information.  The loader's GDT lives in memory the
 * guest does not own, so the guest loads its own before any interrupt.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003	/* page-aligned modules, memory map wanted */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.globl _start
_start:
	cli
	cld
	lgdt gdt_desc
	ljmp $0x08, $1f
1:	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %fs
	movw %cx, %gs
	movw %cx, %ss
	movl $stack_top, %esp
	pushl %ebx
	pushl %eax
	call guest_main
2:	cli
	hlt
	jmp 2b

/* The timer (IRQ 0 at vector 0x20): count a tick, acknowledge. */
	.globl irq_timer
irq_timer:
	incl ticks
	pushl %eax
	movb $0x20, %al
	outb %al, $0x20
	popl %eax
	iret

/* Spurious IRQ 7 / 15, spurious local APIC interrupts: no acknowledgement. */
	.globl irq_spurious
irq_spurious:
	iret

/* CPU exceptions 0-31: report the vector and stop (guest_exception). */
.macro EXC n
	.globl exc\n
exc\n:
	pushl $\n
	jmp exc_common
.endm
	EXC 0
	EXC 1
	EXC 2
	EXC 3
	EXC 4
	EXC 5
	EXC 6
	EXC 7
	EXC 8
	EXC 9
	EXC 10
	EXC 11
	EXC 12
	EXC 13
	EXC 14
	EXC 15
	EXC 16
	EXC 17
	EXC 18
	EXC 19
exc_common:
	/* The vector, then what the CPU pushed: error code or EIP. */
	call guest_exception
3:	cli
	hlt
	jmp 3b

	.section .rodata
	.align 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: code, flat 4 GiB */
	.quad 0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	.globl exc_stubs
	.align 4
exc_stubs:
	.long exc0, exc1, exc2, exc3, exc4, exc5, exc6, exc7, exc8, exc9
	.long exc10, exc11, exc12, exc13, exc14, exc15, exc16, exc17, exc18, exc19

/*
 * The stack comes after every other writable byte of the image: the
 * lowest pages a migration finds changed are the guest's variables, and
 * a test that drops them (msram --drop 1) leaves the stack alone.
 */
	.section .stack, "aw", @nobits
	.align 4096
stack:
	.skip 16384
stack_top:
	.section .note.GNU-stack, "", @progbits
