#include "frame.h"

#include <errno.h>
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

void veil_frame_reader_release(struct veil_frame_reader *r)
{
	free(r->buf);
	veil_frame_reader_init(r);
}

static void drop_consumed(struct veil_frame_reader *r)
{
	if (r->consumed == 0)
		return;
	memmove(r->buf, r->buf + r->consumed, r->len - r->consumed);
	r->len -= r->consumed;
	r->consumed = 0;
}

uint8_t *veil_frame_reader_space(struct veil_frame_reader *r, size_t *room)
{
	drop_consumed(r);
	/* Grow lazily: most frames are small, the bound is header + max payload. */
	size_t want = r->len + VEIL_DATA_CHUNK + VEIL_FRAME_HEADER_LEN;
	const size_t limit = VEIL_FRAME_HEADER_LEN + VEIL_FRAME_MAX_PAYLOAD;
	if (want > limit)
		want = limit;
	if (r->cap < want) {
		uint8_t *grown = realloc(r->buf, want);
		if (grown == NULL) {
			*room = 0;
			return NULL;
		}
		r->buf = grown;
		r->cap = want;
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
	drop_consumed(r);
	if (r->len < VEIL_FRAME_HEADER_LEN)
		return 0;
	int rc = veil_frame_header_decode(r->buf, h);
	if (rc < 0)
		return rc;
	size_t total = VEIL_FRAME_HEADER_LEN + (size_t)h->length;
	if (r->len < total) {
		if (r->cap < total) {
			uint8_t *grown = realloc(r->buf, total);
			if (grown == NULL)
				return -ENOMEM;
			r->buf = grown;
			r->cap = total;
		}
		return 0;
	}
	*payload = r->buf + VEIL_FRAME_HEADER_LEN;
	r->consumed = total;
	return 1;
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
