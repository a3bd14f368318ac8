// SPDX-License-Identifier: GPL-2.0
/* The send engine: placeholder until the engine tests land. */
#include "kselftest_harness.h"
#include "ms_testlib.h"

TEST(placeholder)
{
}

TEST_HARNESS_MAIN
