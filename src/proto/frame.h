/* ttrpc-style framing shared by the host runtime and the guest agent.
 * Header (10 bytes, big endian): u32 payload length, u32 stream id, u8 type, u8 flags.
 * See docs/agent-protocol.md. Every length is bounded before anything is allocated. */
#ifndef VEIL_PROTO_FRAME_H
#define VEIL_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VEIL_PROTOCOL_VERSION 1u
#define VEIL_AGENT_SERVICE "veil.agent.v1.Agent"

#define VEIL_FRAME_HEADER_LEN 10u
/* Largest payload of any frame; ttrpc uses the same 4 MiB bound. */
#define VEIL_FRAME_MAX_PAYLOAD (4u << 20)
/* Largest DATA payload a sender produces; receivers accept up to the frame max. */
#define VEIL_DATA_CHUNK (64u << 10)
/* Stdin credit the agent grants per stream before the host must wait for WINDOW. */
#define VEIL_STDIN_WINDOW (256u << 10)

enum veil_frame_type {
	VEIL_FRAME_REQUEST = 1,  /* host -> agent, odd stream id, payload: Request */
	VEIL_FRAME_RESPONSE = 2, /* agent -> host, stream id of the request, payload: Response */
	VEIL_FRAME_DATA = 3,     /* both ways, I/O stream id (even), raw bytes */
	VEIL_FRAME_WINDOW = 4,   /* agent -> host, I/O stream id, payload: u32 BE stdin credit */
};

#define VEIL_FRAME_FLAG_CLOSED 0x01u /* DATA: sender will send no more on this stream */
#define VEIL_FRAME_FLAGS_KNOWN VEIL_FRAME_FLAG_CLOSED

struct veil_frame_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void veil_frame_header_encode(const struct veil_frame_header *h, uint8_t out[VEIL_FRAME_HEADER_LEN]);

/* Returns 0, or -EPROTO (unknown type/flags, stream id 0, bad id parity),
 * or -EMSGSIZE (length over the bound, or not 4 for WINDOW). */
int veil_frame_header_decode(const uint8_t in[VEIL_FRAME_HEADER_LEN], struct veil_frame_header *h);

/* Accumulates bytes from a stream and yields whole frames. The buffer never
 * grows past header + VEIL_FRAME_MAX_PAYLOAD. Frames are handed out in place:
 * bytes move only when room runs out at the end of the buffer, so that a
 * stream of tiny frames costs linear time. */
struct veil_frame_reader {
	uint8_t *buf;
	size_t start; /* buf[0..start) was handed out already */
	size_t len;   /* buf[start..len) is buffered, not yet a whole frame handed out */
	size_t cap;
};

#define VEIL_FRAME_READER_MAX (VEIL_FRAME_HEADER_LEN + VEIL_FRAME_MAX_PAYLOAD)

void veil_frame_reader_init(struct veil_frame_reader *r);
/* With the buffer allocated at its bound at once, so that it never moves.
 * Returns 0, or -ENOMEM. */
int veil_frame_reader_init_full(struct veil_frame_reader *r);
void veil_frame_reader_release(struct veil_frame_reader *r);
/* Returns a place to read up to *room bytes into; call veil_frame_reader_commit after. */
uint8_t *veil_frame_reader_space(struct veil_frame_reader *r, size_t *room);
void veil_frame_reader_commit(struct veil_frame_reader *r, size_t n);
/* 1: a frame is ready (*payload valid until the next call), 0: need more bytes,
 * <0: -EPROTO/-EMSGSIZE/-ENOMEM, the stream is unusable. */
int veil_frame_reader_next(struct veil_frame_reader *r, struct veil_frame_header *h, const uint8_t **payload);
/* Whether veil_frame_reader_next would return something other than 0 now. */
bool veil_frame_reader_has_frame(const struct veil_frame_reader *r);

/* Writes header + payload to fd, retrying short writes and EINTR. Blocking fds
 * only. Returns 0 or -errno. */
int veil_frame_write(int fd, uint8_t type, uint8_t flags, uint32_t stream_id, const void *payload, size_t len);

#endif
