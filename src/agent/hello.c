#include "agent/hello.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "lib/cleanup.h"
#include "proto/frame.h"

/* Credits the bytes as full entropy: the host's RNG is the guest's only good source,
 * and a VM resumed from a shared snapshot must diverge from its siblings at once.
 * Once the CRNG is ready, credited entropy only waits in the pool for the next
 * scheduled reseed (up to a minute away on the 6.1 kernel): until then VMs
 * cloned from one snapshot would produce the same random numbers, so the CRNG
 * is reseeded right away. */
static int add_entropy(const uint8_t *data, size_t len, veil_err_t *err)
{
	cleanup_close int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "open /dev/urandom");
	cleanup_free struct rand_pool_info *pool = malloc(sizeof(*pool) + len);
	if (pool == NULL)
		return veil_fail(err, ENOMEM, "entropy");
	pool->entropy_count = (int)(len * 8);
	pool->buf_size = (int)len;
	memcpy(pool->buf, data, len);
	int rc = ioctl(fd, RNDADDENTROPY, pool);
	int saved = errno;
	explicit_bzero(pool->buf, len);
	if (rc < 0)
		return veil_fail(err, saved, "RNDADDENTROPY");
	if (ioctl(fd, RNDRESEEDCRNG) < 0)
		return veil_fail(err, errno, "RNDRESEEDCRNG");
	return 0;
}

int agent_hello(const Veil__Agent__V1__HelloRequest *req, Veil__Agent__V1__HelloResponse *resp, veil_err_t *err)
{
	if (add_entropy(req->entropy.data, req->entropy.len, err) < 0)
		return -1;
	if (req->realtime_ns != 0) {
		struct timespec ts = { .tv_sec = req->realtime_ns / 1000000000, .tv_nsec = req->realtime_ns % 1000000000 };
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			return veil_fail(err, errno, "clock_settime");
	}
	struct timespec boot;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	resp->protocol_version = VEIL_PROTOCOL_VERSION;
	resp->agent_version = (char *)VEIL_VERSION " (" VEIL_COMMIT ")";
	resp->boot_ns = (uint64_t)boot.tv_sec * 1000000000u + (uint64_t)boot.tv_nsec;
	return 0;
}
