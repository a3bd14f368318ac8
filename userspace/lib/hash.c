// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole-memory hash with XXH3-64, read with pread(): holes stay holes. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "internal.h"

#define MS_HASH_CHUNK	(1U << 20)

int migsend_hash_memory(const int *fds, const uint64_t *offsets,
			const uint64_t *lens, unsigned int n, uint64_t *hash)
{
	XXH3_state_t *st = XXH3_createState();
	void *buf = malloc(MS_HASH_CHUNK);
	unsigned int i;
	int err = 0;

	if (!st || !buf) {
		err = ms_fail(ENOMEM, "hashing memory");
		goto out;
	}
	XXH3_64bits_reset(st);
	for (i = 0; i < n && !err; i++) {
		uint64_t done = 0;

		while (done < lens[i]) {
			size_t want = lens[i] - done < MS_HASH_CHUNK ?
				      lens[i] - done : MS_HASH_CHUNK;
			ssize_t got = pread(fds[i], buf, want, offsets[i] + done);

			if (got <= 0) {
				err = ms_fail(got ? errno : EIO, "reading memory to hash it");
				break;
			}
			XXH3_64bits_update(st, buf, got);
			done += got;
		}
	}
	*hash = XXH3_64bits_digest(st);
out:
	XXH3_freeState(st);
	free(buf);
	return err;
}
