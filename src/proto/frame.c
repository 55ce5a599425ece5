#include "proto/frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void veil_frame_header_encode(const struct veil_frame_header *h, uint8_t out[VEIL_FRAME_HEADER_LEN])
{
	put_u32(out, h->length);
	put_u32(out + 4, h->stream_id);
	out[8] = h->type;
	out[9] = h->flags;
}

int veil_frame_header_decode(const uint8_t in[VEIL_FRAME_HEADER_LEN], struct veil_frame_header *h)
{
	h->length = get_u32(in);
	h->stream_id = get_u32(in + 4);
	h->type = in[8];
	h->flags = in[9];
	if (h->length > VEIL_FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (h->stream_id == 0 || (h->flags & ~VEIL_FRAME_FLAGS_KNOWN) != 0)
		return -EPROTO;
	switch (h->type) {
	case VEIL_FRAME_REQUEST:
	case VEIL_FRAME_RESPONSE:
		/* Requests use odd ids as in ttrpc; I/O streams use even ids. */
		return (h->stream_id & 1u) && h->flags == 0 ? 0 : -EPROTO;
	case VEIL_FRAME_DATA:
		return (h->stream_id & 1u) ? -EPROTO : 0;
	case VEIL_FRAME_WINDOW:
		if (h->stream_id & 1u || h->flags != 0)
			return -EPROTO;
		return h->length == 4 ? 0 : -EMSGSIZE;
	default:
		return -EPROTO;
	}
}

void veil_frame_reader_init(struct veil_frame_reader *r)
{
	memset(r, 0, sizeof(*r));
}

int veil_frame_reader_init_full(struct veil_frame_reader *r)
{
	veil_frame_reader_init(r);
	r->buf = malloc(VEIL_FRAME_READER_MAX);
	if (r->buf == NULL)
		return -ENOMEM;
	r->cap = VEIL_FRAME_READER_MAX;
	return 0;
}

void veil_frame_reader_release(struct veil_frame_reader *r)
{
	free(r->buf);
	veil_frame_reader_init(r);
}

/* Moves the buffered bytes to the front once room at the end is short. */
static void compact(struct veil_frame_reader *r, size_t room_wanted)
{
	if (r->start == r->len) {
		r->start = r->len = 0;
		return;
	}
	if (r->start == 0 || r->cap - r->len >= room_wanted)
		return;
	memmove(r->buf, r->buf + r->start, r->len - r->start);
	r->len -= r->start;
	r->start = 0;
}

/* Makes the buffer at least size bytes; false when out of memory. */
static bool reserve(struct veil_frame_reader *r, size_t size)
{
	if (r->cap >= size)
		return true;
	uint8_t *grown = realloc(r->buf, size);
	if (grown == NULL)
		return false;
	r->buf = grown;
	r->cap = size;
	return true;
}

uint8_t *veil_frame_reader_space(struct veil_frame_reader *r, size_t *room)
{
	/* Grow lazily: most frames are small, the bound is header + max payload. */
	size_t chunk = VEIL_DATA_CHUNK + VEIL_FRAME_HEADER_LEN;
	compact(r, chunk);
	size_t want = r->len + chunk;
	if (!reserve(r, want < VEIL_FRAME_READER_MAX ? want : VEIL_FRAME_READER_MAX)) {
		*room = 0;
		return NULL;
	}
	*room = r->cap - r->len;
	return r->buf + r->len;
}

void veil_frame_reader_commit(struct veil_frame_reader *r, size_t n)
{
	r->len += n;
}

int veil_frame_reader_next(struct veil_frame_reader *r, struct veil_frame_header *h, const uint8_t **payload)
{
	if (r->len - r->start < VEIL_FRAME_HEADER_LEN)
		return 0;
	int rc = veil_frame_header_decode(r->buf + r->start, h);
	if (rc < 0)
		return rc;
	size_t total = VEIL_FRAME_HEADER_LEN + (size_t)h->length;
	if (r->len - r->start < total) {
		/* The rest of the frame must fit behind what is buffered. */
		compact(r, total - (r->len - r->start));
		return reserve(r, r->start + total) ? 0 : -ENOMEM;
	}
	*payload = r->buf + r->start + VEIL_FRAME_HEADER_LEN;
	r->start += total;
	return 1;
}

bool veil_frame_reader_has_frame(const struct veil_frame_reader *r)
{
	struct veil_frame_header h;
	if (r->len - r->start < VEIL_FRAME_HEADER_LEN)
		return false;
	return veil_frame_header_decode(r->buf + r->start, &h) < 0 ||
	       r->len - r->start >= VEIL_FRAME_HEADER_LEN + (size_t)h.length;
}

int veil_frame_write(int fd, uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len)
{
	if (len > VEIL_FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	uint8_t hdr[VEIL_FRAME_HEADER_LEN];
	struct veil_frame_header h = { .length = (uint32_t)len, .stream_id = stream_id, .type = type, .flags = flags };
	veil_frame_header_encode(&h, hdr);
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	int n_iov = len > 0 ? 2 : 1;
	struct iovec *cur = iov;
	while (n_iov > 0) {
		ssize_t w = writev(fd, cur, n_iov);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		size_t done = (size_t)w;
		while (n_iov > 0 && done >= cur->iov_len) {
			done -= cur->iov_len;
			cur++;
			n_iov--;
		}
		if (n_iov > 0) {
			cur->iov_base = (uint8_t *)cur->iov_base + done;
			cur->iov_len -= done;
		}
	}
	return 0;
}
