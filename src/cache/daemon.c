/* The factory daemon: one poll(2) loop that keeps vm_cache_number keepers
 * (keeper.c) booting or holding a paused VM, and answers claims and status
 * requests on the endpoint. Booting happens in the keepers, so a claim is
 * answered at once even while VMs boot. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/factory.h"
#include "cache/instance.h"
#include "cache/template.h"
#include "hv/host.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/control.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/strv.h"

#define MAX_CONNS 32
/* A client sends its request right after connecting; one that does not is dropped. */
#define CONN_TIMEOUT_MS 2000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* Beyond dial_timeout: QEMU's own start-up (QMP greeting) and slack. */
#define BOOT_SLACK_MS 15000
#define STOP_GRACE_MS 5000

/* SCRUBBING: a returned VM that its keeper is readying for the next tenant.
 * LOANED (reset = "scrub"): claimed, the slot kept for the VM's return; only
 * its pidfd is held, to free the slot if the VM ends instead. */
enum slot_state { SLOT_IDLE, SLOT_BOOTING, SLOT_SCRUBBING, SLOT_READY, SLOT_LOANED };

struct slot {
	enum slot_state state;
	char name[96];
	pid_t keeper;          /* 0 when none or reaped */
	int ctl;               /* our end of the keeper's socketpair: the VM's lifeline */
	int pidfd, control_fd, agent_fd; /* READY: what a claim hands out */
	pid_t qemu;
	uint32_t root_ports, boot_ms;
	bool cloned;
	uint32_t scrubs;
	bool warmed;
	long long started_ms;  /* when its boot began */
	long long retry_at_ms; /* IDLE: no boot before */
	unsigned failures;     /* in a row, for the back-off */
};

struct conn {
	int fd; /* -1: free */
	long long deadline_ms;
};

/* The template the pool clones, when [factory] enable_template is set. */
struct template_builder {
	enum cache_template_state state;
	struct veil_template t;
	struct veil_template_info info;
	pid_t pid;            /* BUILDING: the builder, a child */
	int ctl;              /* BUILDING: its abort line */
	long long started_ms;
};

struct daemon {
	const struct veil_factory_opts *o;
	const struct veil_hypervisor *hv;
	struct cache_instance in;
	struct template_builder tmpl;
	struct cache_shape shape;
	pid_t pid;
	struct slot slots[CACHE_MAX_VMS];
	size_t n_slots;
	struct conn conns[MAX_CONNS];
	int listen_fd;
	int signal_fd;
	unsigned seq;
	size_t max_booting;
	long long boot_timeout_ms;
	bool warm_up;            /* keepers warm their VMs up on in.warm_up_image */
	uint32_t claimed, failures, returned;
	unsigned rejected;       /* requests refused since the last warning */
	long long rejected_logged_ms;
	bool stopping;
};

/* ---- slots ---- */

static void slot_clear(struct slot *s)
{
	veil_close_fd(&s->ctl);
	veil_close_fd(&s->pidfd);
	veil_close_fd(&s->control_fd);
	veil_close_fd(&s->agent_fd);
	s->qemu = 0;
	s->state = SLOT_IDLE;
}

static void template_suspect(struct daemon *d, unsigned failures);
static void template_built(struct daemon *d, bool ok);

/* Kills what the slot holds, keeper included. */
static void slot_discard(struct daemon *d, struct slot *s)
{
	/* Not yet reaped, so the pid cannot have been reused. */
	if (s->keeper > 0)
		kill(s->keeper, SIGKILL);
	s->keeper = 0;
	slot_clear(s);
	/* A keeper removes its VM's console as it exits, unless it was killed. */
	char console[PATH_MAX];
	cache_console_path(&d->in, s->name, console, sizeof(console));
	unlink(console);
}

/* A VM or boot was lost: kill what remains of it, boot another after a back-off. */
static void slot_lost(struct daemon *d, struct slot *s, const char *why)
{
	bool clone_failed = s->cloned && s->state == SLOT_BOOTING;
	log_warn("factory: cached VM %s %s: %s", s->name,
		 s->state == SLOT_READY ? "lost" : s->state == SLOT_SCRUBBING ? "failed its scrub" : "failed to boot", why);
	slot_discard(d, s);
	if (clone_failed)
		template_suspect(d, s->failures + 1);
	s->failures++;
	d->failures++;
	unsigned shift = s->failures - 1 < 10 ? s->failures - 1 : 10;
	long long delay = (long long)BACKOFF_MIN_MS << shift;
	s->retry_at_ms = veil_now_ms() + (delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS);
}

static int slot_start(struct daemon *d, struct slot *s, veil_err_t *err)
{
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
		return veil_fail(err, errno, "socketpair");
	cleanup_close int keeper_end = pair[1];
	s->ctl = pair[0];
	cache_vm_name(&d->in, d->pid, ++d->seq, s->name, sizeof(s->name));
	char console[PATH_MAX];
	cache_console_path(&d->in, s->name, console, sizeof(console));

	cleanup_strv struct veil_strv argv = { 0 };
	for (char *const *a = d->o->veil_argv; *a != NULL; a++)
		veil_strv_push(&argv, *a);
	static const char *const tail[] = { "factory", "keeper", "--name" };
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
		veil_strv_push(&argv, tail[i]);
	veil_strv_push(&argv, s->name);
	veil_strv_push(&argv, "--console");
	veil_strv_push(&argv, console);
	s->cloned = d->tmpl.state == CACHE_TEMPLATE_READY;
	if (s->cloned)
		veil_strv_push(&argv, "--clone");
	if (d->warm_up) {
		veil_strv_push(&argv, "--warm-up");
		veil_strv_push(&argv, d->in.warm_up_image);
	}
	/* Its own session, and no parent-death signal: a claimed VM outlives the factory. */
	struct veil_spawn_opts opts = {
		.pass_fds = &keeper_end, .n_pass_fds = 1, .stdout_fd = -1, .stderr_fd = STDERR_FILENO,
		.new_session = true,
	};
	if (veil_spawn(argv.items, &opts, &s->keeper, err) < 0) {
		veil_close_fd(&s->ctl);
		return -1;
	}
	s->state = SLOT_BOOTING;
	s->started_ms = veil_now_ms();
	s->boot_ms = 0;
	log_debug("factory: %s cached VM %s (keeper %d)", s->cloned ? "cloning" : "booting", s->name, (int)s->keeper);
	return 0;
}

static void on_ready(struct daemon *d, struct slot *s, json_object *msg, int fds[VEIL_CTL_MAX_FDS])
{
	struct cache_ready ready;
	veil_err_t err = NULL;
	if (cache_ready_decode(msg, &ready, &err) < 0 || fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		veil_ctl_close_fds(fds);
		slot_lost(d, s, err ? err->msg : "keeper sent no channels");
		veil_error_free(&err);
		return;
	}
	s->pidfd = fds[0];
	s->control_fd = fds[1];
	s->agent_fd = fds[2];
	bool scrubbed = s->state == SLOT_SCRUBBING;
	s->qemu = ready.qemu_pid;
	s->root_ports = ready.root_ports;
	s->boot_ms = ready.boot_ms;
	s->cloned = ready.cloned;
	s->scrubs = ready.scrubs;
	s->warmed = ready.warmed;
	snprintf(s->name, sizeof(s->name), "%s", ready.name);
	s->state = SLOT_READY;
	s->failures = 0;
	if (scrubbed)
		d->returned++;
	log_info("factory: cached VM %s ready (QEMU %d, %s%s in %u ms)", s->name, (int)s->qemu,
		 scrubbed ? "scrubbed" : s->cloned ? "cloned" : "agent ready", !scrubbed && s->warmed ? " and warmed up" : "",
		 s->boot_ms);
}

static void on_keeper(struct daemon *d, struct slot *s)
{
	json_object *msg = NULL;
	int fds[VEIL_CTL_MAX_FDS];
	veil_err_t err = NULL;
	int rc = veil_ctl_recv(s->ctl, &msg, fds, 0, &err);
	if (rc == 0 && msg != NULL && (s->state == SLOT_BOOTING || s->state == SLOT_SCRUBBING)) {
		on_ready(d, s, msg, fds);
		json_object_put(msg);
		return;
	}
	/* Anything else from a keeper is noise; only its end matters. */
	bool ended = rc < 0 || msg == NULL;
	veil_ctl_close_fds(fds);
	json_object_put(msg);
	veil_error_free(&err);
	if (ended)
		slot_lost(d, s, s->state != SLOT_READY ? "its keeper gave up (see the log)" : "its keeper exited");
}

static void reap(struct daemon *d)
{
	pid_t pid;
	int status;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == d->tmpl.pid)
			template_built(d, WIFEXITED(status) && WEXITSTATUS(status) == 0);
		for (size_t i = 0; i < d->n_slots; i++) {
			struct slot *s = &d->slots[i];
			if (s->keeper != pid)
				continue;
			s->keeper = 0;
			if (s->state != SLOT_IDLE)
				slot_lost(d, s, "its keeper exited");
		}
	}
}

static size_t count_state(const struct daemon *d, enum slot_state state)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_slots; i++)
		n += d->slots[i].state == state;
	return n;
}

/* Starts due boots and gives up on boots past their deadline. */
static void schedule(struct daemon *d, long long now)
{
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if ((s->state == SLOT_BOOTING || s->state == SLOT_SCRUBBING) && now - s->started_ms > d->boot_timeout_ms)
			slot_lost(d, s, "no agent-ready VM in time");
	}
	if (d->tmpl.state == CACHE_TEMPLATE_BUILDING && now - d->tmpl.started_ms > d->boot_timeout_ms) {
		/* Reaped as any child; its exit status then reads as a failure. */
		kill(d->tmpl.pid, SIGKILL);
		d->tmpl.started_ms = now;
	}
	/* Clones wait for their template. */
	if (d->tmpl.state == CACHE_TEMPLATE_BUILDING)
		return;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (s->state != SLOT_IDLE || s->retry_at_ms > now || count_state(d, SLOT_BOOTING) >= d->max_booting)
			continue;
		veil_err_t err = NULL;
		if (slot_start(d, s, &err) < 0) {
			slot_lost(d, s, err->msg);
			veil_error_free(&err);
		}
	}
}

/* ---- the template ---- */

static void template_start_build(struct daemon *d, const char *why)
{
	struct template_builder *b = &d->tmpl;
	log_warn("factory: template in %s: %s; building one", b->t.dir, why);
	int pair[2];
	veil_err_t err = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		veil_fail(&err, errno, "socketpair");
	} else {
		cleanup_close int builder_end = pair[1];
		b->ctl = pair[0];
		char console[PATH_MAX];
		cache_console_path(&d->in, "template", console, sizeof(console));
		cleanup_strv struct veil_strv argv = { 0 };
		for (char *const *a = d->o->veil_argv; *a != NULL; a++)
			veil_strv_push(&argv, *a);
		static const char *const tail[] = { "factory", "template-build", "--console" };
		for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
			veil_strv_push(&argv, tail[i]);
		veil_strv_push(&argv, console);
		struct veil_spawn_opts opts = {
			.pass_fds = &builder_end, .n_pass_fds = 1, .stdout_fd = -1, .stderr_fd = STDERR_FILENO,
			.new_session = true, .die_with_parent = true,
		};
		if (veil_spawn(argv.items, &opts, &b->pid, &err) == 0) {
			b->state = CACHE_TEMPLATE_BUILDING;
			b->started_ms = veil_now_ms();
			return;
		}
		veil_close_fd(&b->ctl);
	}
	log_warn("factory: cannot build the template: %s; pooling booted VMs instead", err->msg);
	veil_error_free(&err);
	b->state = CACHE_TEMPLATE_FAILED;
}

static void template_built(struct daemon *d, bool ok)
{
	struct template_builder *b = &d->tmpl;
	b->pid = 0;
	veil_close_fd(&b->ctl);
	char why[256] = "the build failed (see the log above)";
	if (ok && veil_template_check(&b->t, false, &b->info, why, sizeof(why)) == 1) {
		b->state = CACHE_TEMPLATE_READY;
		log_info("factory: template ready in %s (built in %u ms)", b->t.dir, b->info.build_ms);
		return;
	}
	/* Another attempt would most likely fail alike; booted VMs still serve. */
	b->state = CACHE_TEMPLATE_FAILED;
	log_warn("factory: template in %s could not be built: %s; pooling booted VMs instead", b->t.dir, why);
}

/* A clone failed `failures` times in a row: rebuild the template if it is
 * damaged, or if clones keep failing although it looks intact (a state file
 * this QEMU cannot load, say). */
static void template_suspect(struct daemon *d, unsigned failures)
{
	char why[256];
	if (d->tmpl.state != CACHE_TEMPLATE_READY)
		return;
	if (veil_template_check(&d->tmpl.t, false, &d->tmpl.info, why, sizeof(why)) != 1)
		template_start_build(d, why);
	else if (failures >= 2)
		template_start_build(d, "its clones keep failing");
}

/* Why no container of this configuration could clone a template, or NULL. */
static const char *template_unusable(const struct veil_config *cfg)
{
	if (cfg->qemu.shared_fs == VEIL_SHARED_FS_VIRTIO_FS)
		return "shared_fs = \"virtio-fs\" needs the VMs' memory shared, and a clone maps the template's privately";
	return NULL;
}

static int template_setup(struct daemon *d, veil_err_t *err)
{
	struct template_builder *b = &d->tmpl;
	b->ctl = -1;
	if (!d->o->cfg->factory.enable_template)
		return 0;
	const char *unusable = template_unusable(d->o->cfg);
	if (unusable != NULL) {
		log_warn("factory: template not used: %s; pooling booted VMs", unusable);
		return 0;
	}
	struct veil_vm_config vmc;
	if (veil_template_configured(&b->t, d->o->cfg, "", &vmc, err) < 0)
		return -1;
	char why[256];
	long long t0 = veil_now_ms();
	if (veil_template_check(&b->t, true, &b->info, why, sizeof(why)) == 1) {
		b->state = CACHE_TEMPLATE_READY;
		log_info("factory: using the template in %s (verified in %lld ms)", b->t.dir, veil_now_ms() - t0);
		return 0;
	}
	template_start_build(d, why);
	return 0;
}

/* ---- clients ---- */

/* Refusals are logged, but a flood of them must not flood the log. */
static void note_rejected(struct daemon *d, const char *why)
{
	d->rejected++;
	long long now = veil_now_ms();
	if (now - d->rejected_logged_ms < 1000)
		return;
	log_warn("factory: refused %u request(s) since the last report; latest: %s", d->rejected, why);
	d->rejected = 0;
	d->rejected_logged_ms = now;
}

static void reply(struct conn *c, json_object *msg, const int *fds, int n_fds)
{
	veil_err_t err = NULL;
	if (veil_ctl_send(c->fd, msg, fds, n_fds, &err) < 0) {
		log_debug("factory: reply lost: %s", err->msg);
		veil_error_free(&err);
	}
	json_object_put(msg);
}

static void handle_claim(struct daemon *d, struct conn *c, const struct cache_request *req)
{
	struct cache_claim_reply r = { .granted = false };
	char why[256];
	if (!cache_shape_equal(&req->shape, &d->shape)) {
		cache_shape_diff(&req->shape, &d->shape, why, sizeof(why));
		r.reason = why;
		reply(c, cache_claim_reply_encode(&r), NULL, 0);
		return;
	}
	struct slot *s = NULL;
	for (size_t i = 0; i < d->n_slots && s == NULL; i++) {
		if (d->slots[i].state != SLOT_READY)
			continue;
		/* A VM that died since the last poll is not handed out. */
		struct pollfd exited = { .fd = d->slots[i].pidfd, .events = POLLIN };
		if (poll(&exited, 1, 0) == 0)
			s = &d->slots[i];
		else
			slot_lost(d, &d->slots[i], "QEMU exited");
	}
	if (s == NULL) {
		snprintf(why, sizeof(why), "pool empty (%zu of %zu VMs booting)", count_state(d, SLOT_BOOTING), d->n_slots);
		r.reason = why;
		reply(c, cache_claim_reply_encode(&r), NULL, 0);
		return;
	}
	r.granted = true;
	r.root_ports = s->root_ports;
	json_object *msg = cache_claim_reply_encode(&r);
	const int fds[] = { s->ctl, s->control_fd, s->agent_fd };
	veil_err_t err = NULL;
	int rc = veil_ctl_send(c->fd, msg, fds, 3, &err);
	json_object_put(msg);
	if (rc < 0) {
		/* Nothing left this process: the VM stays pooled. */
		log_debug("factory: claim not delivered: %s", err->msg);
		veil_error_free(&err);
		return;
	}
	/* From here the client holds the lifeline: if it dies, even before
	 * reading the reply, the VM dies with it. */
	msg = json_object_new_object();
	json_object_object_add(msg, "pidfd", json_object_new_boolean(1));
	reply(c, msg, &s->pidfd, 1);
	msg = json_object_new_object();
	json_object_object_add(msg, "claimed", json_object_new_boolean(1));
	if (veil_ctl_send(s->ctl, msg, NULL, 0, &err) < 0)
		veil_error_free(&err);
	json_object_put(msg);
	log_info("factory: cached VM %s (QEMU %d) claimed", s->name, (int)s->qemu);
	s->keeper = 0; /* still our child, reaped by reap(); no longer this slot's */
	d->claimed++;
	if (d->o->cfg->runtime.reset == VEIL_RESET_SCRUB) {
		/* Only the client may hold the lifeline now. */
		veil_close_fd(&s->ctl);
		veil_close_fd(&s->control_fd);
		veil_close_fd(&s->agent_fd);
		s->state = SLOT_LOANED;
		return;
	}
	slot_clear(s);
	s->retry_at_ms = veil_now_ms();
}

/* A slot for a returned VM: the one it was loaned from, else a free one,
 * else one still booting (its boot is the cheaper loss); never beyond
 * vm_cache_number VMs. */
static struct slot *slot_for_return(struct daemon *d, pid_t qemu)
{
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (s->state == SLOT_LOANED && s->qemu == qemu) {
			veil_close_fd(&s->pidfd);
			return s;
		}
	}
	for (size_t i = 0; i < d->n_slots; i++)
		if (d->slots[i].state == SLOT_IDLE)
			return &d->slots[i];
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (s->state != SLOT_BOOTING)
			continue;
		slot_discard(d, s);
		return s;
	}
	return NULL;
}

static void refuse(struct conn *c, const char *why)
{
	struct cache_claim_reply r = { .granted = false, .reason = why };
	reply(c, cache_claim_reply_encode(&r), NULL, 0);
}

/* A loaned VM ended without coming back: its slot boots another. */
static void loan_ended(struct slot *s)
{
	log_debug("factory: loaned VM %s (QEMU %d) ended without being returned", s->name, (int)s->qemu);
	slot_clear(s);
	s->retry_at_ms = veil_now_ms();
}

/* fds: the VM's lifeline, control and agent channels. */
static void handle_return(struct daemon *d, struct conn *c, const struct cache_request *req, int fds[VEIL_CTL_MAX_FDS])
{
	char why[256];
	struct slot *s = NULL;
	if (d->o->cfg->runtime.reset != VEIL_RESET_SCRUB) {
		refuse(c, "VMs are not reused here ([runtime] reset = \"clone\")");
	} else if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
		refuse(c, "a VM is returned with its lifeline, control and agent channels");
	} else if (!cache_shape_equal(&req->shape, &d->shape)) {
		cache_shape_diff(&req->shape, &d->shape, why, sizeof(why));
		refuse(c, why);
	} else if ((s = slot_for_return(d, req->qemu_pid)) == NULL) {
		refuse(c, "the pool is full");
	}
	if (s == NULL)
		return;
	json_object *msg = json_object_new_object();
	json_object_object_add(msg, "scrub", json_object_new_boolean(1));
	veil_err_t err = NULL;
	int rc = veil_ctl_send(fds[0], msg, &fds[1], 2, &err);
	json_object_put(msg);
	if (rc < 0) {
		snprintf(why, sizeof(why), "its keeper is gone: %.200s", err->msg);
		veil_error_free(&err);
		refuse(c, why);
		return;
	}
	/* Until its keeper reports, by its name, a VM from another slot goes by this one. */
	if (s->qemu != req->qemu_pid)
		snprintf(s->name, sizeof(s->name), "returned-%u", ++d->seq);
	s->ctl = fds[0];
	fds[0] = -1;
	s->state = SLOT_SCRUBBING;
	s->qemu = req->qemu_pid;
	s->started_ms = veil_now_ms();
	s->keeper = 0; /* not known; the lifeline is what holds it */
	struct cache_claim_reply r = { .granted = true, .root_ports = d->o->cfg->factory.pcie_root_port };
	reply(c, cache_claim_reply_encode(&r), NULL, 0);
	log_info("factory: a VM was returned: scrubbing it for the pool");
}

/* fds[0]: where the memory goes. The daemon waits for the dump: it is a
 * diagnostic, not a hot path. */
static void handle_dump(struct daemon *d, struct conn *c, const struct cache_request *req, int fds[VEIL_CTL_MAX_FDS])
{
	struct slot *s = NULL;
	for (size_t i = 0; i < d->n_slots && s == NULL; i++)
		if (d->slots[i].state == SLOT_READY && (req->qemu_pid == 0 || d->slots[i].qemu == req->qemu_pid))
			s = &d->slots[i];
	veil_err_t err = NULL;
	if (fds[0] < 0) {
		veil_fail(&err, EINVAL, "a dump request carries the file to write");
	} else if (s == NULL) {
		veil_fail(&err, ESRCH, "no pooled VM %s", req->qemu_pid ? "with that QEMU pid" : "to dump");
	} else {
		/* The slot keeps its channels: this view of the VM only borrows them. */
		struct veil_vm vm;
		veil_vm_init(&vm);
		vm.hv = d->hv;
		vm.pid = s->qemu;
		vm.control_fd = s->control_fd;
		d->hv->dump_memory(&vm, fds[0], &err);
	}
	if (err != NULL) {
		reply(c, veil_ctl_error_reply(err->msg), NULL, 0);
		veil_error_free(&err);
		return;
	}
	json_object *msg = json_object_new_object();
	json_object_object_add(msg, "dumped", json_object_new_int(s->qemu));
	reply(c, msg, NULL, 0);
	log_info("factory: memory of cached VM %s dumped on request", s->name);
}

static void handle_status(struct daemon *d, struct conn *c)
{
	struct cache_status st = {
		.pid = d->pid, .target = (uint32_t)d->n_slots, .claimed = d->claimed, .failures = d->failures,
		.returned = d->returned, .template_state = d->tmpl.state, .template_build_ms = d->tmpl.info.build_ms,
	};
	if (d->tmpl.state == CACHE_TEMPLATE_READY)
		snprintf(st.template_hash, sizeof(st.template_hash), "%s", d->tmpl.info.config_hash);
	long long now = veil_now_ms();
	for (size_t i = 0; i < d->n_slots; i++) {
		const struct slot *s = &d->slots[i];
		if (s->state == SLOT_IDLE)
			continue;
		st.vms[st.n_vms++] = (struct cache_vm_status){
			.state = s->state == SLOT_READY	      ? CACHE_VM_PAUSED
				 : s->state == SLOT_SCRUBBING ? CACHE_VM_SCRUBBING
				 : s->state == SLOT_LOANED    ? CACHE_VM_LOANED
							      : CACHE_VM_BOOTING,
			.cloned = s->cloned,
			.scrubs = s->scrubs,
			.warmed = s->warmed,
			.qemu_pid = s->qemu,
			.keeper_pid = s->keeper,
			.age_ms = (uint64_t)(now - s->started_ms),
			.boot_ms = s->boot_ms,
			.vcpus = d->shape.vcpus,
			.memory_mib = d->shape.memory_mib,
		};
	}
	reply(c, cache_status_encode(&st), NULL, 0);
}

static void on_conn(struct daemon *d, struct conn *c)
{
	json_object *msg = NULL;
	int fds[VEIL_CTL_MAX_FDS];
	veil_err_t err = NULL;
	int rc = veil_ctl_recv(c->fd, &msg, fds, 0, &err);
	struct cache_request req;
	if (rc < 0) {
		note_rejected(d, err->msg);
	} else if (msg != NULL && cache_request_decode(msg, &req, &err) < 0) {
		note_rejected(d, err->msg);
		reply(c, veil_ctl_error_reply(err->msg), NULL, 0);
	} else if (msg != NULL && req.op == CACHE_OP_CLAIM) {
		handle_claim(d, c, &req);
	} else if (msg != NULL && req.op == CACHE_OP_RETURN) {
		handle_return(d, c, &req, fds);
	} else if (msg != NULL && req.op == CACHE_OP_DUMP) {
		handle_dump(d, c, &req, fds);
	} else if (msg != NULL) {
		handle_status(d, c);
	}
	/* Whatever fds a handler did not keep. */
	veil_ctl_close_fds(fds);
	veil_error_free(&err);
	json_object_put(msg);
	veil_close_fd(&c->fd);
}

static void accept_conns(struct daemon *d)
{
	for (;;) {
		pid_t peer;
		veil_err_t err = NULL;
		int fd = veil_ctl_accept(d->listen_fd, &peer, &err);
		if (fd < 0) {
			bool more = err->errnum == EPERM || err->errnum == ECONNABORTED;
			if (err->errnum == EPERM)
				note_rejected(d, err->msg);
			else if (err->errnum != EAGAIN && err->errnum != ECONNABORTED)
				log_warn("factory: %s", err->msg);
			veil_error_free(&err);
			if (!more)
				return;
			continue;
		}
		struct conn *c = NULL;
		for (int i = 0; i < MAX_CONNS && c == NULL; i++)
			if (d->conns[i].fd < 0)
				c = &d->conns[i];
		if (c == NULL) {
			note_rejected(d, "too many connections at once");
			close(fd);
			continue;
		}
		c->fd = fd;
		c->deadline_ms = veil_now_ms() + CONN_TIMEOUT_MS;
	}
}

/* ---- the loop ---- */

enum src { SRC_SIGNAL, SRC_LISTEN, SRC_CONN, SRC_KEEPER, SRC_QEMU };

struct watch {
	enum src src;
	size_t index;
};

static int poll_timeout(const struct daemon *d, long long now)
{
	long long next = -1;
	size_t booting = count_state(d, SLOT_BOOTING);
	for (size_t i = 0; i < d->n_slots; i++) {
		const struct slot *s = &d->slots[i];
		long long at = -1;
		if (s->state == SLOT_IDLE && booting < d->max_booting && d->tmpl.state != CACHE_TEMPLATE_BUILDING)
			at = s->retry_at_ms;
		else if (s->state == SLOT_BOOTING || s->state == SLOT_SCRUBBING)
			at = s->started_ms + d->boot_timeout_ms + 1;
		if (at >= 0 && (next < 0 || at < next))
			next = at;
	}
	if (d->tmpl.state == CACHE_TEMPLATE_BUILDING) {
		long long at = d->tmpl.started_ms + d->boot_timeout_ms + 1;
		if (next < 0 || at < next)
			next = at;
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (d->conns[i].fd >= 0 && (next < 0 || d->conns[i].deadline_ms < next))
			next = d->conns[i].deadline_ms;
	if (next < 0)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(d);
		} else if (!d->stopping) {
			log_info("factory: stopping on signal %u", si.ssi_signo);
			d->stopping = true;
		}
	}
}

static void serve(struct daemon *d)
{
	struct pollfd pfds[2 + MAX_CONNS + 2 * CACHE_MAX_VMS];
	struct watch w[sizeof(pfds) / sizeof(pfds[0])];
	while (!d->stopping) {
		long long now = veil_now_ms();
		schedule(d, now);
		nfds_t n = 0;
		pfds[n] = (struct pollfd){ .fd = d->signal_fd, .events = POLLIN };
		w[n++] = (struct watch){ SRC_SIGNAL, 0 };
		pfds[n] = (struct pollfd){ .fd = d->listen_fd, .events = POLLIN };
		w[n++] = (struct watch){ SRC_LISTEN, 0 };
		for (size_t i = 0; i < MAX_CONNS; i++) {
			if (d->conns[i].fd < 0)
				continue;
			pfds[n] = (struct pollfd){ .fd = d->conns[i].fd, .events = POLLIN };
			w[n++] = (struct watch){ SRC_CONN, i };
		}
		for (size_t i = 0; i < d->n_slots; i++) {
			const struct slot *s = &d->slots[i];
			if (s->state == SLOT_IDLE)
				continue;
			if (s->state != SLOT_LOANED) {
				pfds[n] = (struct pollfd){ .fd = s->ctl, .events = POLLIN };
				w[n++] = (struct watch){ SRC_KEEPER, i };
			}
			if (s->state == SLOT_READY || s->state == SLOT_LOANED) {
				pfds[n] = (struct pollfd){ .fd = s->pidfd, .events = POLLIN };
				w[n++] = (struct watch){ SRC_QEMU, i };
			}
		}
		if (poll(pfds, n, poll_timeout(d, now)) < 0 && errno != EINTR) {
			log_error("factory: poll: %s", strerror(errno));
			return;
		}
		/* Each handler may close fds that later entries name: recheck the state first. */
		for (nfds_t i = 0; i < n; i++) {
			if (pfds[i].revents == 0)
				continue;
			size_t k = w[i].index;
			switch (w[i].src) {
			case SRC_SIGNAL: on_signal(d); break;
			case SRC_LISTEN: accept_conns(d); break;
			case SRC_CONN:
				if (d->conns[k].fd == pfds[i].fd)
					on_conn(d, &d->conns[k]);
				break;
			case SRC_KEEPER:
				if (d->slots[k].state != SLOT_IDLE && d->slots[k].ctl == pfds[i].fd)
					on_keeper(d, &d->slots[k]);
				break;
			case SRC_QEMU:
				if (d->slots[k].state == SLOT_READY && d->slots[k].pidfd == pfds[i].fd)
					slot_lost(d, &d->slots[k], "QEMU exited");
				else if (d->slots[k].state == SLOT_LOANED && d->slots[k].pidfd == pfds[i].fd)
					loan_ended(&d->slots[k]);
				break;
			}
		}
		now = veil_now_ms();
		for (int i = 0; i < MAX_CONNS; i++)
			if (d->conns[i].fd >= 0 && d->conns[i].deadline_ms <= now) {
				note_rejected(d, "no request in time");
				veil_close_fd(&d->conns[i].fd);
			}
	}
}

/* Lets go of every pooled VM; their keepers kill them and exit. */
static void release_pool(struct daemon *d)
{
	pid_t keepers[CACHE_MAX_VMS];
	/* Returned VMs' keepers are not known by pid: their QEMUs are waited for. */
	int returned[CACHE_MAX_VMS];
	size_t n = 0, n_returned = 0;
	for (size_t i = 0; i < d->n_slots; i++) {
		struct slot *s = &d->slots[i];
		if (s->keeper > 0)
			keepers[n++] = s->keeper;
		else if (s->pidfd >= 0 && s->state == SLOT_READY)
			returned[n_returned++] = dup(s->pidfd);
		s->keeper = 0;
		slot_clear(s);
	}
	if (d->tmpl.pid > 0) {
		/* Its QEMU follows by the parent-death signal; the half-built files go with a rebuild. */
		kill(d->tmpl.pid, SIGKILL);
		waitpid(d->tmpl.pid, NULL, 0);
		d->tmpl.pid = 0;
		veil_close_fd(&d->tmpl.ctl);
	}
	long long deadline = veil_now_ms() + STOP_GRACE_MS;
	for (size_t i = 0; i < n; i++) {
		while (waitpid(keepers[i], NULL, WNOHANG) == 0) {
			if (veil_now_ms() >= deadline) {
				/* Its QEMU follows by the parent-death signal. */
				kill(keepers[i], SIGKILL);
				waitpid(keepers[i], NULL, 0);
				break;
			}
			usleep(10000);
		}
	}
	for (size_t i = 0; i < n_returned; i++) {
		struct pollfd gone = { .fd = returned[i], .events = POLLIN };
		long long left = deadline - veil_now_ms();
		if (returned[i] >= 0 && poll(&gone, 1, left > 0 ? (int)left : 0) == 0)
			syscall(SYS_pidfd_send_signal, returned[i], SIGKILL, NULL, 0);
		veil_close_fd(&returned[i]);
	}
}

static int block_signals(veil_err_t *err)
{
	static const int taken[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	return veil_signalfd_for(taken, sizeof(taken) / sizeof(taken[0]), err);
}

/* With --detach: the parent waits on a pipe until the daemon serves its
 * endpoint (empty message) or fails (the error's text), and reports that. */
static int detach(int *notify_fd, bool *is_daemon, veil_err_t *err)
{
	int p[2];
	pid_t child = veil_fork_with_channel(0, p, err);
	if (child < 0)
		return -1;
	if (child == 0) {
		close(p[0]);
		setsid();
		*notify_fd = p[1];
		*is_daemon = true;
		return 0;
	}
	close(p[1]);
	char msg[1024];
	size_t have = 0;
	ssize_t n;
	while (have < sizeof(msg) - 1 && (n = read(p[0], msg + have, sizeof(msg) - 1 - have)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		have += (size_t)n;
	}
	close(p[0]);
	msg[have] = '\0';
	if (have > 0)
		return veil_fail(err, 0, "%s", msg);
	int status;
	if (waitpid(child, &status, WNOHANG) == child)
		return veil_fail(err, 0, "the factory exited during start-up");
	printf("factory started (pid %d)\n", (int)child);
	return 0;
}

static void notify(int *fd, const veil_err_t *err)
{
	if (*fd < 0)
		return;
	if (err != NULL && *err != NULL)
		(void)!write(*fd, (*err)->msg, strlen((*err)->msg));
	veil_close_fd(fd);
	/* Detached for good: nobody reads our stdio any more. */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		close(devnull);
	}
}

/* The warm-up's rootfs, once per daemon. Not for confidential guests: the
 * agent records every container in the VM's tenancy history, and a warmed
 * VM would then attest as one that served a tenant (vm = "fresh" refuses it). */
static int warm_up_setup(struct daemon *d, veil_err_t *err)
{
	if (!d->o->cfg->factory.warm_up || d->o->build_warm_up_image == NULL)
		return 0;
	if (d->shape.tee[0] != '\0') {
		log_info("factory: no warm-up for confidential guests: their tenancy history would count it as a tenant");
		return 0;
	}
	long long t0 = veil_now_ms();
	if (d->o->build_warm_up_image(d->in.warm_up_image, err) < 0)
		return -1;
	log_debug("factory: warm-up image %s built in %lld ms", d->in.warm_up_image, veil_now_ms() - t0);
	d->warm_up = true;
	return 0;
}

static int setup(struct daemon *d, veil_err_t *err)
{
	int killed = cache_cleanup_leftovers(&d->in);
	if (killed > 0)
		log_warn("factory: cleaned up %d process(es) of a previous factory", killed);
	if ((d->signal_fd = block_signals(err)) < 0 || warm_up_setup(d, err) < 0 || template_setup(d, err) < 0)
		return -1;
	if ((d->listen_fd = veil_ctl_listen(d->in.endpoint, err)) < 0)
		return -1;
	if (d->o->pid_file != NULL && veil_write_pid_file(d->o->pid_file, d->pid, err) < 0)
		return -1;
	return 0;
}

/* vm_cache_number = 0 with a template: no pool to keep, so no daemon. The
 * template is checked in full, and built here if it fails the check, for
 * containers to clone on the spot. The instance lock keeps a daemon of the
 * same endpoint, or another init, from building it meanwhile. */
static int template_only(const struct veil_config *cfg, veil_err_t *err)
{
	struct cache_instance in;
	struct veil_template t;
	struct veil_template_info info;
	struct veil_vm_config vmc;
	char console[PATH_MAX], why[256];
	pid_t holder;
	const char *unusable = template_unusable(cfg);
	if (unusable != NULL)
		return veil_fail(err, 0, "no pool (vm_cache_number = 0) and no template to build: %s", unusable);
	const struct veil_hypervisor *hv = veil_hypervisor_configured(cfg, err);
	if (hv == NULL || cache_instance_init(&in, cfg->factory.vm_cache_endpoint, err) < 0)
		return -1;
	cleanup_close int lock_fd = cache_lock(&in, &holder, err);
	if (lock_fd < 0)
		return -1;
	cache_console_path(&in, "template", console, sizeof(console));
	int rc = veil_template_configured(&t, cfg, console, &vmc, err);
	if (rc == 0 && veil_template_check(&t, true, &info, why, sizeof(why)) != 1) {
		log_info("factory: template in %s: %s; building one", t.dir, why);
		rc = veil_template_build(&t, hv, &vmc, -1, (int)cfg->agent.dial_timeout * 1000, &info, err);
		unlink(console);
	}
	cache_remove_files(&in);
	if (rc < 0)
		return veil_fail_context(err, "the template in %s", cfg->factory.template_path);
	log_info("factory: template ready in %s; no pool (vm_cache_number = 0)", t.dir);
	printf("template ready in %s; no pool (vm_cache_number = 0): containers clone it on the spot\n", t.dir);
	return 0;
}

int veil_factory_run(const struct veil_factory_opts *o, bool *is_daemon, veil_err_t *err)
{
	const struct veil_config *cfg = o->cfg;
	*is_daemon = false;
	if (cfg->factory.vm_cache_number == 0 && cfg->factory.enable_template)
		return template_only(cfg, err);
	*is_daemon = !o->detach;
	if (cfg->factory.vm_cache_number == 0)
		return veil_fail(err, 0, "the VM cache is disabled ([factory] vm_cache_number = 0) and there is no template "
					 "([factory] enable_template = false)");
	if (cfg->factory.pcie_root_port == 0)
		return veil_fail(err, 0, "the VM cache needs [factory] pcie_root_port >= 1 to hot-plug containers' disks");
	struct daemon *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return veil_fail(err, ENOMEM, "factory");
	d->o = o;
	d->listen_fd = d->signal_fd = -1;
	d->n_slots = cfg->factory.vm_cache_number;
	for (size_t i = 0; i < d->n_slots; i++)
		d->slots[i] = (struct slot){ .ctl = -1, .pidfd = -1, .control_fd = -1, .agent_fd = -1 };
	for (int i = 0; i < MAX_CONNS; i++)
		d->conns[i].fd = -1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	d->max_booting = cpus > 0 ? (size_t)cpus : 1;
	d->boot_timeout_ms = (long long)cfg->agent.dial_timeout * 1000 + BOOT_SLACK_MS;

	int rc = -1, notify_fd = -1;
	pid_t holder;
	cleanup_close int lock_fd = -1;
	struct veil_vm_config vmc;
	__attribute__((cleanup(veil_tee_config_free))) struct veil_tee_config tee = { 0 };
	if ((d->hv = veil_hypervisor_configured(cfg, err)) == NULL ||
	    veil_cache_vm_config(cfg, "", "", &tee, &vmc, err) < 0 ||
	    cache_shape_of(&vmc, &d->shape, err) < 0 ||
	    cache_instance_init(&d->in, cfg->factory.vm_cache_endpoint, err) < 0 ||
	    (lock_fd = cache_lock(&d->in, &holder, err)) < 0)
		goto out;
	if (o->detach && (detach(&notify_fd, is_daemon, err) < 0 || !*is_daemon)) {
		rc = *err == NULL ? 0 : -1;
		goto out;
	}
	d->pid = getpid();
	if (cache_lock_set_pid(lock_fd, d->pid, err) < 0 || setup(d, err) < 0) {
		notify(&notify_fd, err);
		cache_remove_files(&d->in);
		goto out;
	}
	log_info("factory %d: keeping %zu VMs ready on %s", (int)d->pid, d->n_slots, d->in.endpoint);
	if (!o->detach)
		printf("factory running (pid %d): keeping %zu VMs ready on %s\n", (int)d->pid, d->n_slots, d->in.endpoint);
	fflush(stdout);
	notify(&notify_fd, err);
	serve(d);
	veil_close_fd(&d->listen_fd);
	for (int i = 0; i < MAX_CONNS; i++)
		veil_close_fd(&d->conns[i].fd);
	release_pool(d);
	cache_cleanup_leftovers(&d->in);
	if (o->pid_file != NULL)
		unlink(o->pid_file);
	cache_remove_files(&d->in);
	log_info("factory %d: stopped", (int)d->pid);
	rc = 0;
out:
	veil_close_fd(&d->signal_fd);
	veil_close_fd(&d->listen_fd);
	free(d);
	return rc;
}
