/* SPDX-License-Identifier: GPL-2.0 */
/*
 * migsend tracepoints, split out as net/tls/trace.h is: every file that
 * fires one includes this header; trace.c alone defines them
 * (CREATE_TRACE_POINTS).  The arguments are plain values and the uapi
 * counters, so this header needs none of the module's structures.
 * docs/TRACING.md describes each event and how to watch them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM migsend

#if !defined(MS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define MS_TRACE_H

#include <linux/tracepoint.h>

#include "../uapi/linux/migsend.h"

#define ms_show_state(state)						\
	__print_symbolic(state,						\
			 { MIGSEND_STATE_IDLE, "IDLE" },		\
			 { MIGSEND_STATE_RUNNING, "RUNNING" },		\
			 { MIGSEND_STATE_DONE, "DONE" },		\
			 { MIGSEND_STATE_FAILED, "FAILED" },		\
			 { MIGSEND_STATE_CANCELLED, "CANCELLED" })

TRACE_EVENT(migsend_session_open,
	    TP_PROTO(u32 session, u32 pid),
	    TP_ARGS(session, pid),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, pid)),
	    TP_fast_assign(__entry->session = session;
			   __entry->pid = pid;),
	    TP_printk("session=%u pid=%u", __entry->session, __entry->pid)
);

TRACE_EVENT(migsend_session_close,
	    TP_PROTO(u32 session, u32 pid, u64 last_pass,
		     const struct migsend_counters *total),
	    TP_ARGS(session, pid, last_pass, total),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, pid)
			     __field(u64, last_pass)
			     __field(u64, bytes)
			     __field(u64, errors)),
	    TP_fast_assign(__entry->session = session;
			   __entry->pid = pid;
			   __entry->last_pass = last_pass;
			   __entry->bytes = total->wire_bytes;
			   __entry->errors = total->errors;),
	    TP_printk("session=%u pid=%u last_pass=%llu bytes=%llu errors=%llu",
		      __entry->session, __entry->pid, __entry->last_pass,
		      __entry->bytes, __entry->errors)
);

TRACE_EVENT(migsend_pass_start,
	    TP_PROTO(u32 session, u64 pass, u64 gpa, u64 npages, u32 flags,
		     u32 nconns, u32 timeout_ms),
	    TP_ARGS(session, pass, gpa, npages, flags, nconns, timeout_ms),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, flags)
			     __field(u64, pass)
			     __field(u64, gpa)
			     __field(u64, npages)
			     __field(u32, nconns)
			     __field(u32, timeout_ms)),
	    TP_fast_assign(__entry->session = session;
			   __entry->flags = flags;
			   __entry->pass = pass;
			   __entry->gpa = gpa;
			   __entry->npages = npages;
			   __entry->nconns = nconns;
			   __entry->timeout_ms = timeout_ms;),
	    TP_printk("session=%u pass=%llu gpa=0x%llx npages=%llu flags=0x%x nconns=%u timeout_ms=%u",
		      __entry->session, __entry->pass, __entry->gpa,
		      __entry->npages, __entry->flags, __entry->nconns,
		      __entry->timeout_ms)
);

TRACE_EVENT(migsend_pass_done,
	    TP_PROTO(u32 session, u64 pass, u32 state, int error,
		     const struct migsend_counters *c),
	    TP_ARGS(session, pass, state, error, c),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, state)
			     __field(u64, pass)
			     __field(int, error)
			     __field(u64, pages)
			     __field(u64, data)
			     __field(u64, zero)
			     __field(u64, holes)
			     __field(u64, records)
			     __field(u64, bytes)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->session = session;
			   __entry->state = state;
			   __entry->pass = pass;
			   __entry->error = error;
			   __entry->pages = c->dirty_pages;
			   __entry->data = c->data_pages;
			   __entry->zero = c->zero_pages_scanned;
			   __entry->holes = c->zero_pages_hole;
			   __entry->records = c->records;
			   __entry->bytes = c->wire_bytes;
			   __entry->ns = c->elapsed_ns;),
	    TP_printk("session=%u pass=%llu state=%s error=%d pages=%llu data=%llu zero=%llu holes=%llu records=%llu bytes=%llu ns=%llu",
		      __entry->session, __entry->pass, ms_show_state(__entry->state),
		      __entry->error, __entry->pages, __entry->data,
		      __entry->zero, __entry->holes, __entry->records,
		      __entry->bytes, __entry->ns)
);

TRACE_EVENT(migsend_span_sent,
	    TP_PROTO(u32 session, u32 conn, u64 pass, u64 gpa, u64 pages,
		     u64 dirty, u64 bytes, u64 ns, int error),
	    TP_ARGS(session, conn, pass, gpa, pages, dirty, bytes, ns, error),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, conn)
			     __field(u64, pass)
			     __field(u64, gpa)
			     __field(u64, pages)
			     __field(u64, dirty)
			     __field(u64, bytes)
			     __field(u64, ns)
			     __field(int, error)),
	    TP_fast_assign(__entry->session = session;
			   __entry->conn = conn;
			   __entry->pass = pass;
			   __entry->gpa = gpa;
			   __entry->pages = pages;
			   __entry->dirty = dirty;
			   __entry->bytes = bytes;
			   __entry->ns = ns;
			   __entry->error = error;),
	    TP_printk("session=%u conn=%u pass=%llu gpa=0x%llx pages=%llu dirty=%llu bytes=%llu ns=%llu error=%d",
		      __entry->session, __entry->conn, __entry->pass,
		      __entry->gpa, __entry->pages, __entry->dirty,
		      __entry->bytes, __entry->ns, __entry->error)
);

TRACE_EVENT(migsend_conn_dead,
	    TP_PROTO(u32 session, u32 conn, u64 pass, int error, u64 wire_bytes,
		     u64 records),
	    TP_ARGS(session, conn, pass, error, wire_bytes, records),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, conn)
			     __field(u64, pass)
			     __field(int, error)
			     __field(u64, bytes)
			     __field(u64, records)),
	    TP_fast_assign(__entry->session = session;
			   __entry->conn = conn;
			   __entry->pass = pass;
			   __entry->error = error;
			   __entry->bytes = wire_bytes;
			   __entry->records = records;),
	    TP_printk("session=%u conn=%u pass=%llu error=%d bytes=%llu records=%llu",
		      __entry->session, __entry->conn, __entry->pass,
		      __entry->error, __entry->bytes, __entry->records)
);

#endif /* MS_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace

#include <trace/define_trace.h>
