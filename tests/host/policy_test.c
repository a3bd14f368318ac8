// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the operator policy (userspace/lib/policy.c): the
 * connection count each policy picks from a link speed, vCPUs and
 * --max-conns, and the bandwidth syntax.  The route lookup itself is
 * tested in the VM, where links of known and unknown speed exist.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"
#include "internal.h"

static unsigned int decide(enum migsend_conns_policy p, uint64_t mbps,
			   unsigned int cpus, unsigned int max)
{
	struct migsend_conns_inputs in = {
		.link_mbps = mbps, .cpus = cpus, .max_conns = max,
	};
	struct migsend_conns_decision d;

	if (migsend_conns_decide(p, &in, &d))
		return 0;
	return d.nconns;
}

TEST(parallel_is_one_per_10_gbits_capped_by_cpus_at_least_2)
{
	EXPECT_EQ(2, decide(MIGSEND_CONNS_PARALLEL, 10000, 8, 0));	/* 1 -> 2 */
	EXPECT_EQ(2, decide(MIGSEND_CONNS_PARALLEL, 1000, 8, 0));	/* 0 -> 2 */
	EXPECT_EQ(4, decide(MIGSEND_CONNS_PARALLEL, 40000, 8, 0));
	EXPECT_EQ(8, decide(MIGSEND_CONNS_PARALLEL, 100000, 8, 0));	/* vCPUs */
	EXPECT_EQ(10, decide(MIGSEND_CONNS_PARALLEL, 100000, 0, 0));	/* no vCPU cap */
	EXPECT_EQ(16, decide(MIGSEND_CONNS_PARALLEL, 400000, 64, 0));	/* default max */
	EXPECT_EQ(32, decide(MIGSEND_CONNS_PARALLEL, 400000, 64, 32));
	EXPECT_EQ(2, decide(MIGSEND_CONNS_PARALLEL, 100000, 1, 0));	/* 1 vCPU -> 2 */
}

TEST(auto_is_one_connection_below_2)
{
	EXPECT_EQ(1, decide(MIGSEND_CONNS_AUTO, 10000, 8, 0));
	EXPECT_EQ(1, decide(MIGSEND_CONNS_AUTO, 1000, 8, 0));
	EXPECT_EQ(1, decide(MIGSEND_CONNS_AUTO, 100000, 1, 0));
	EXPECT_EQ(2, decide(MIGSEND_CONNS_AUTO, 25000, 8, 0));
	EXPECT_EQ(8, decide(MIGSEND_CONNS_AUTO, 100000, 8, 0));
}

TEST(unknown_speed_gets_the_minimum_and_says_so)
{
	struct migsend_conns_inputs in = { .cpus = 8 };
	struct migsend_conns_decision d;

	ASSERT_EQ(0, migsend_conns_decide(MIGSEND_CONNS_PARALLEL, &in, &d));
	EXPECT_EQ(2, d.nconns);
	EXPECT_NE(NULL, strstr(d.reason, "unknown"));
	ASSERT_EQ(0, migsend_conns_decide(MIGSEND_CONNS_AUTO, &in, &d));
	EXPECT_EQ(1, d.nconns);
}

TEST(custom_is_as_given_within_max)
{
	struct migsend_conns_inputs in = { .custom = 4 };
	struct migsend_conns_decision d;

	ASSERT_EQ(0, migsend_conns_decide(MIGSEND_CONNS_CUSTOM, &in, &d));
	EXPECT_EQ(4, d.nconns);
	in.custom = 17;
	EXPECT_EQ(-EINVAL, migsend_conns_decide(MIGSEND_CONNS_CUSTOM, &in, &d));
	in.max_conns = 129;
	in.custom = 2;
	EXPECT_EQ(-EINVAL, migsend_conns_decide(MIGSEND_CONNS_CUSTOM, &in, &d));
}

TEST(policy_names_parse)
{
	enum migsend_conns_policy p;
	unsigned int n = 0;

	ASSERT_EQ(0, migsend_conns_policy_parse("auto", &p, &n));
	EXPECT_EQ(MIGSEND_CONNS_AUTO, p);
	ASSERT_EQ(0, migsend_conns_policy_parse("parallel", &p, &n));
	EXPECT_EQ(MIGSEND_CONNS_PARALLEL, p);
	ASSERT_EQ(0, migsend_conns_policy_parse("7", &p, &n));
	EXPECT_EQ(MIGSEND_CONNS_CUSTOM, p);
	EXPECT_EQ(7, n);
	EXPECT_EQ(-EINVAL, migsend_conns_policy_parse("0", &p, &n));
	EXPECT_EQ(-EINVAL, migsend_conns_policy_parse("129", &p, &n));
	EXPECT_EQ(-EINVAL, migsend_conns_policy_parse("4x", &p, &n));
	EXPECT_EQ(-EINVAL, migsend_conns_policy_parse("", &p, &n));
}

TEST(rates_parse_in_bytes_or_bits)
{
	uint64_t r;

	ASSERT_EQ(0, migsend_parse_rate("40M", &r));
	EXPECT_EQ(40000000ULL, r);
	ASSERT_EQ(0, migsend_parse_rate("40MB/s", &r));
	EXPECT_EQ(40000000ULL, r);
	ASSERT_EQ(0, migsend_parse_rate("320Mbit/s", &r));
	EXPECT_EQ(40000000ULL, r);
	ASSERT_EQ(0, migsend_parse_rate("1G", &r));
	EXPECT_EQ(1000000000ULL, r);
	ASSERT_EQ(0, migsend_parse_rate("1500", &r));
	EXPECT_EQ(1500ULL, r);
	EXPECT_EQ(-EINVAL, migsend_parse_rate("0", &r));
	EXPECT_EQ(-EINVAL, migsend_parse_rate("-5M", &r));
	EXPECT_EQ(-EINVAL, migsend_parse_rate("40Q", &r));
	EXPECT_EQ(-EINVAL, migsend_parse_rate("fast", &r));
}

TEST_HARNESS_MAIN
