#include "agent/hello.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "agent/trace.h"
#include "lib/cleanup.h"
#include "proto/frame.h"

#define NS_PER_S 1000000000LL

/* Set by the first Hello that carried a time. */
static bool clock_set;

/* Mixes the bytes into the input pool without crediting them: the guest's own
 * sources (virtio-rng, the CPU, a TEE's) are what make the RNG count as
 * seeded, never the host. Then reseeds at once: once the CRNG is ready, the
 * 6.1 kernel takes new input only at its next scheduled reseed (up to a
 * minute away), and until then VMs cloned from one snapshot would produce the
 * same random numbers. A CRNG that is not ready yet (ENODATA) will seed from
 * the pool, these bytes included, when it is. */
static int mix_entropy(const uint8_t *data, size_t len, veil_err_t *err)
{
	cleanup_close int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "open /dev/urandom");
	if (write(fd, data, len) != (ssize_t)len)
		return veil_fail(err, errno, "mixing entropy into /dev/urandom");
	if (ioctl(fd, RNDRESEEDCRNG) < 0 && errno != ENODATA)
		return veil_fail(err, errno, "RNDRESEEDCRNG");
	return 0;
}

int agent_clock_step_allowed(bool was_set, bool resumed, int64_t guest_ns, int64_t host_ns, veil_err_t *err)
{
	if (!was_set)
		return 0;
	int64_t step = host_ns - guest_ns;
	if (step < -AGENT_CLOCK_SLEW_NS)
		return veil_fail(err, 0, "realtime_ns is %lld s behind the guest's clock, which does not go back",
				 (long long)(-step / NS_PER_S));
	if (step > AGENT_CLOCK_SLEW_NS && !resumed)
		return veil_fail(err, 0,
				 "realtime_ns is %lld s ahead of the guest's clock; only a Hello that resumes the VM "
				 "may move it that far",
				 (long long)(step / NS_PER_S));
	return 0;
}

int agent_hello(const Veil__Agent__V1__HelloRequest *req, Veil__Agent__V1__HelloResponse *resp, int *code,
		veil_err_t *err)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t guest_ns = (int64_t)now.tv_sec * NS_PER_S + now.tv_nsec;
	/* Checked before anything changes: a refused Hello leaves the guest as it was. */
	*code = VEIL_RPC_FAILED_PRECONDITION;
	if (req->realtime_ns != 0 && agent_clock_step_allowed(clock_set, req->resumed, guest_ns, req->realtime_ns, err) < 0)
		return -1;
	*code = VEIL_RPC_INTERNAL;
	if (mix_entropy(req->entropy.data, req->entropy.len, err) < 0)
		return -1;
	if (req->realtime_ns != 0) {
		struct timespec ts = { .tv_sec = req->realtime_ns / NS_PER_S, .tv_nsec = req->realtime_ns % NS_PER_S };
		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			return veil_fail(err, errno, "clock_settime");
		clock_set = true;
	}
	resp->protocol_version = VEIL_PROTOCOL_VERSION;
	resp->agent_version = (char *)VEIL_VERSION " (" VEIL_COMMIT ")";
	resp->boot_ns = agent_trace_now();
	return 0;
}
