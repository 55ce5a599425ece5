/* Arbitrary bytes as a stream of frames (proto/frame.h), read as the agent
 * and the host read their ports: the first byte picks a read size, so that
 * frames split across reads are covered; each whole frame goes to handle,
 * and a stream whose framing breaks is read no further. */
#ifndef VEIL_FUZZ_FRAMES_H
#define VEIL_FUZZ_FRAMES_H

#include <stdint.h>
#include <string.h>

#include "proto/frame.h"

static inline void fuzz_frames(const uint8_t *data, size_t size,
			       void (*handle)(const struct veil_frame_header *h, const uint8_t *payload))
{
	size_t step = size > 0 ? (size_t)data[0] * 7 + 1 : 1;
	struct veil_frame_reader r;
	veil_frame_reader_init(&r);
	for (size_t off = size > 0 ? 1 : 0; off < size;) {
		size_t room;
		uint8_t *space = veil_frame_reader_space(&r, &room);
		if (space == NULL)
			break;
		size_t n = size - off < room ? size - off : room;
		if (n > step)
			n = step;
		memcpy(space, data + off, n);
		veil_frame_reader_commit(&r, n);
		off += n;
		struct veil_frame_header h;
		const uint8_t *payload;
		int rc;
		while ((rc = veil_frame_reader_next(&r, &h, &payload)) == 1)
			handle(&h, payload);
		if (rc < 0)
			break;
	}
	veil_frame_reader_release(&r);
}

#endif
