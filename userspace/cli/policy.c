// SPDX-License-Identifier: GPL-2.0
/*
 * The CLI's side of the operator policy: --conns auto|parallel|N and
 * --max-conns decided from the kernel's route to the destination, the
 * CPUs the guest has, and said to the operator (text or JSON); and
 * --max-bandwidth.  The rules are the library's (lib/policy.c).
 */
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void conns_choice_init(struct conns_choice *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = MIGSEND_CONNS_AUTO;
	c->max_conns = MIGSEND_DEFAULT_MAX_CONNS;
}

int conns_choice_parse(struct conns_choice *c, const char *arg)
{
	return migsend_conns_policy_parse(arg, &c->policy, &c->custom);
}

unsigned int cpus_available(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 0;
	return CPU_COUNT(&set);
}

int conns_choose(struct conns_choice *c, const char *host, unsigned int cpus)
{
	struct migsend_conns_inputs in = {
		.cpus = cpus, .max_conns = c->max_conns, .custom = c->custom,
	};
	int err;

	c->cpus = cpus;
	if (c->policy != MIGSEND_CONNS_CUSTOM) {
		err = migsend_route_link(host, &c->link);
		if (err)
			return err;
		in.link_mbps = c->link.mbps;
	}
	return migsend_conns_decide(c->policy, &in, &c->decision);
}

void conns_print(const struct conns_choice *c, FILE *f)
{
	char speed[48];

	if (c->policy == MIGSEND_CONNS_CUSTOM) {
		fprintf(f, "connections: %u (as given)\n", c->decision.nconns);
		return;
	}
	if (c->link.mbps)
		snprintf(speed, sizeof(speed), "reports %" PRIu64 " Mbit/s", c->link.mbps);
	else
		snprintf(speed, sizeof(speed), "reports no link speed");
	fprintf(f, "connections: %u (policy %s: the route's interface %s %s; %u CPUs; at most %u; %s)\n",
		c->decision.nconns, migsend_conns_policy_name(c->policy), c->link.ifname,
		speed, c->cpus, c->max_conns, c->decision.reason);
}

void conns_json(const struct conns_choice *c, FILE *f)
{
	fprintf(f, "\"conns\":{\"policy\":\"%s\",\"count\":%u,\"max\":%u,\"cpus\":%u",
		migsend_conns_policy_name(c->policy), c->decision.nconns, c->max_conns, c->cpus);
	if (c->policy != MIGSEND_CONNS_CUSTOM) {
		fprintf(f, ",\"interface\":\"%s\",\"link_mbps\":", c->link.ifname);
		if (c->link.mbps)
			fprintf(f, "%" PRIu64, c->link.mbps);
		else
			fprintf(f, "null");
	}
	fprintf(f, ",\"reason\":\"%s\"}", c->decision.reason);
}
