#include "cache/template.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hv/agent_client.h"
#include "hv/host.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/log.h"

#define META_MAX (16u << 10)
#define HASH_CHUNK (1u << 20)
#define TEMPLATE_FORMAT 4

int veil_cache_vm_config(const struct veil_config *cfg, const char *name, const char *console, struct veil_tee_config *tee,
			 struct veil_vm_config *vmc, veil_err_t *err)
{
	if (veil_vm_config_from(cfg, name, console, tee, vmc, err) < 0)
		return -1;
	vmc->pcie_root_ports = cfg->factory.pcie_root_port;
	vmc->rootfs_slot = true;
	return 0;
}

static EVP_MD_CTX *sha256_new(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	return ctx;
}

static void sha256_finish(EVP_MD_CTX *ctx, char out[TEMPLATE_HASH_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	veil_hex_encode(md, len < 32 ? len : 32, out);
}

static int hash_file(const char *path, char out[TEMPLATE_HASH_HEX], veil_err_t *err)
{
	static unsigned char buf[HASH_CHUNK];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return veil_fail(err, errno, "%s", path);
	EVP_MD_CTX *ctx = sha256_new();
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			EVP_MD_CTX_free(ctx);
			return veil_fail(err, errno, "reading %s", path);
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	sha256_finish(ctx, out);
	return 0;
}

/* Each field NUL-terminated, so that no two configurations hash alike by shifting bytes between fields. */
static void hash_field(EVP_MD_CTX *ctx, const char *name, const char *value)
{
	EVP_DigestUpdate(ctx, name, strlen(name) + 1);
	EVP_DigestUpdate(ctx, value, strlen(value) + 1);
}

int veil_template_locate(struct veil_template *t, const char *dir, veil_err_t *err)
{
	memset(t, 0, sizeof(*t));
	if (dir[0] != '/' || strlen(dir) + sizeof("/template.json") > sizeof(t->dir))
		return veil_fail(err, EINVAL, "template_path %s: not an absolute path of reasonable length", dir);
	snprintf(t->dir, sizeof(t->dir), "%s", dir);
	snprintf(t->memory, sizeof(t->memory), "%s/memory", dir);
	snprintf(t->state, sizeof(t->state), "%s/state", dir);
	snprintf(t->meta, sizeof(t->meta), "%s/template.json", dir);
	return 0;
}

/* A file's path and identity: any write to it, or another file in its place,
 * changes the inode, size or times. Contents would be surer but cost tens
 * of milliseconds per clone for a kernel with symbols. */
static int hash_file_identity(EVP_MD_CTX *ctx, const char *name, const char *path, veil_err_t *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return veil_fail(err, errno, "%s %s", name, path);
	char id[160];
	snprintf(id, sizeof(id), "%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		 (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec,
		 st.st_ctim.tv_nsec);
	hash_field(ctx, name, path);
	hash_field(ctx, name, id);
	return 0;
}

int veil_template_init(struct veil_template *t, const char *dir, const struct veil_vm_config *vmc, veil_err_t *err)
{
	if (veil_template_locate(t, dir, err) < 0)
		return -1;
	t->memory_mib = vmc->memory_mib;
	char num[128];
	EVP_MD_CTX *ctx = sha256_new();
	snprintf(num, sizeof(num), "%d", TEMPLATE_FORMAT);
	hash_field(ctx, "format", num);
	/* QEMU's device state only loads into the QEMU build that saved it. */
	if (hash_file_identity(ctx, "guest kernel", vmc->kernel, err) < 0 ||
	    hash_file_identity(ctx, "guest initrd", vmc->initrd, err) < 0 ||
	    hash_file_identity(ctx, "QEMU binary", vmc->vmm_path, err) < 0) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	hash_field(ctx, "machine", vmc->machine);
	hash_field(ctx, "kernel_params", vmc->kernel_params);
	snprintf(num, sizeof(num), "%u:%u:%u:%d:%d:%d:%d", vmc->memory_mib, vmc->vcpus, vmc->pcie_root_ports,
		 vmc->use_kvm, vmc->pvm_host, vmc->guest_debug, vmc->rootfs_slot);
	hash_field(ctx, "shape", num);
	sha256_finish(ctx, t->config_hash);
	return 0;
}

int veil_template_configured(struct veil_template *t, const struct veil_config *cfg, const char *console,
			     struct veil_vm_config *vmc, veil_err_t *err)
{
	/* No TEE's launch: a confidential guest's memory cannot be a template's. */
	if (veil_cache_vm_config(cfg, "template", console, NULL, vmc, err) < 0)
		return -1;
	return veil_template_init(t, cfg->factory.template_path, vmc, err);
}

/* ---- template.json ---- */

static int read_info(const struct veil_template *t, struct veil_template_info *info, char *why, size_t why_len)
{
	veil_err_t err = NULL;
	size_t len;
	cleanup_free char *text = veil_read_file(t->meta, META_MAX, &len, &err);
	if (text == NULL) {
		snprintf(why, why_len, "%s", err->errnum == ENOENT ? "no template built yet" : err->msg);
		veil_error_free(&err);
		return 0;
	}
	json_object *o = json_tokener_parse(text);
	memset(info, 0, sizeof(*info));
	static const char *const hashes[] = { "config_hash", "memory_sha256", "state_sha256" };
	char *const outs[] = { info->config_hash, info->memory_sha256, info->state_sha256 };
	bool ok = o != NULL && json_object_is_type(o, json_type_object);
	for (size_t i = 0; ok && i < 3; i++) {
		json_object *v;
		ok = json_object_object_get_ex(o, hashes[i], &v) && json_object_is_type(v, json_type_string) &&
		     json_object_get_string_len(v) == TEMPLATE_HASH_HEX - 1;
		if (ok)
			memcpy(outs[i], json_object_get_string(v), TEMPLATE_HASH_HEX);
	}
	json_object *v;
	if (ok && json_object_object_get_ex(o, "memory_bytes", &v) && json_object_is_type(v, json_type_int))
		info->memory_bytes = (uint64_t)json_object_get_int64(v);
	else
		ok = false;
	if (ok && json_object_object_get_ex(o, "build_ms", &v) && json_object_is_type(v, json_type_int))
		info->build_ms = (uint32_t)json_object_get_int64(v);
	if (ok && json_object_object_get_ex(o, "created", &v) && json_object_is_type(v, json_type_int))
		info->created = json_object_get_int64(v);
	json_object_put(o);
	if (!ok)
		snprintf(why, why_len, "template corrupt: %s is not a valid template record", t->meta);
	return ok ? 1 : 0;
}

static int write_info(const struct veil_template *t, const struct veil_template_info *info, veil_err_t *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_int(TEMPLATE_FORMAT));
	json_object_object_add(o, "config_hash", json_object_new_string(info->config_hash));
	json_object_object_add(o, "memory_bytes", json_object_new_int64((int64_t)info->memory_bytes));
	json_object_object_add(o, "memory_sha256", json_object_new_string(info->memory_sha256));
	json_object_object_add(o, "state_sha256", json_object_new_string(info->state_sha256));
	json_object_object_add(o, "build_ms", json_object_new_int64(info->build_ms));
	json_object_object_add(o, "created", json_object_new_int64(info->created));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	int rc = veil_write_file_atomic(t->meta, text, strlen(text), err);
	json_object_put(o);
	return rc;
}

/* Whoever can write the template decides what every clone runs: its
 * directory must be ours alone. */
static int check_private(const struct veil_template *t, veil_err_t *err)
{
	struct stat st;
	if (lstat(t->dir, &st) < 0)
		return veil_fail(err, errno, "template_path %s", t->dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0)
		return veil_fail(err, EPERM, "template_path %s is not a directory private to uid %u", t->dir,
				 (unsigned)geteuid());
	return 0;
}

int veil_template_check(const struct veil_template *t, bool deep, struct veil_template_info *info, char *why,
			size_t why_len)
{
	veil_err_t err = NULL;
	if (check_private(t, &err) < 0) {
		snprintf(why, why_len, "%s", err->errnum == ENOENT ? "no template built yet" : err->msg);
		veil_error_free(&err);
		return 0;
	}
	if (read_info(t, info, why, why_len) == 0)
		return 0;
	if (strcmp(info->config_hash, t->config_hash) != 0) {
		snprintf(why, why_len, "template built for another kernel, initrd, QEMU or VM shape");
		return 0;
	}
	struct stat memory, state;
	if (stat(t->memory, &memory) < 0 || stat(t->state, &state) < 0) {
		snprintf(why, why_len, "template incomplete: %s", strerror(errno));
		return 0;
	}
	if ((uint64_t)memory.st_size != (uint64_t)t->memory_mib << 20 || info->memory_bytes != (uint64_t)memory.st_size) {
		snprintf(why, why_len, "template corrupt: its memory file has %jd bytes, not %ju", (intmax_t)memory.st_size,
			 (uintmax_t)((uint64_t)t->memory_mib << 20));
		return 0;
	}
	char digest[TEMPLATE_HASH_HEX];
	const char *const files[] = { t->state, t->memory };
	const char *const expect[] = { info->state_sha256, info->memory_sha256 };
	for (int i = 0; i < (deep ? 2 : 1); i++) {
		if (hash_file(files[i], digest, &err) < 0) {
			snprintf(why, why_len, "template unreadable: %s", err->msg);
			veil_error_free(&err);
			return 0;
		}
		if (strcmp(digest, expect[i]) != 0) {
			snprintf(why, why_len, "template corrupt: %s does not match its recorded hash", files[i]);
			return 0;
		}
	}
	return 1;
}

/* ---- build ---- */

static int open_new(const char *path, veil_err_t *err)
{
	/* A fresh inode: clones of an earlier template map the old one, whose
	 * untouched pages they read through the page cache. */
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return veil_fail(err, errno, "creating %s", path);
	return fd;
}

static int save(struct veil_vm *vm, const char *state_new, veil_err_t *err)
{
	cleanup_close int fd = open_new(state_new, err);
	if (fd < 0 || vm->hv->save_state(vm, fd, err) < 0 || fsync(fd) < 0)
		return -1;
	return 0;
}

int veil_template_build(const struct veil_template *t, const struct veil_hypervisor *hv,
			const struct veil_vm_config *template_vm, int abort_fd, int ready_timeout_ms,
			struct veil_template_info *info, veil_err_t *err)
{
	long long t0 = veil_now_ms();
	char memory_new[PATH_MAX + 8], state_new[PATH_MAX + 8];
	snprintf(memory_new, sizeof(memory_new), "%s.new", t->memory);
	snprintf(state_new, sizeof(state_new), "%s.new", t->state);
	if (veil_mkdir_p(t->dir, 0700, err) < 0 || check_private(t, err) < 0)
		return -1;
	struct veil_vm_config vmc = *template_vm;
	vmc.memory_file = memory_new;
	vmc.memory_shared = true;
	/* Empty, QEMU sizes it; ours, it is private to the owner from the start. */
	int memory_fd = open_new(memory_new, err);
	if (memory_fd < 0)
		return -1;
	close(memory_fd);

	struct veil_vm vm;
	veil_vm_init(&vm);
	int rc = hv->start(&vm, &vmc, err);
	if (rc == 0)
		rc = veil_agent_hello_once(vm.agent_fd, vm.pidfd, abort_fd, ready_timeout_ms, err);
	if (rc == 0)
		rc = vm.hv->pause(&vm, err);
	if (rc == 0)
		rc = save(&vm, state_new, err);
	if (vm.hv != NULL)
		vm.hv->teardown(&vm);

	memset(info, 0, sizeof(*info));
	memcpy(info->config_hash, t->config_hash, TEMPLATE_HASH_HEX);
	info->memory_bytes = (uint64_t)t->memory_mib << 20;
	if (rc == 0)
		rc = hash_file(memory_new, info->memory_sha256, err);
	if (rc == 0)
		rc = hash_file(state_new, info->state_sha256, err);
	/* The record goes first and comes back last: a template is never seen
	 * with files that do not match its record. */
	if (rc == 0 && unlink(t->meta) < 0 && errno != ENOENT)
		rc = veil_fail(err, errno, "removing %s", t->meta);
	if (rc == 0 && (rename(memory_new, t->memory) < 0 || rename(state_new, t->state) < 0))
		rc = veil_fail(err, errno, "installing the template in %s", t->dir);
	info->build_ms = (uint32_t)(veil_now_ms() - t0);
	info->created = time(NULL);
	if (rc == 0)
		rc = write_info(t, info, err);
	unlink(memory_new);
	unlink(state_new);
	if (rc < 0)
		return veil_fail_context(err, "building the VM template in %s", t->dir);
	log_info("template: built in %s in %u ms", t->dir, info->build_ms);
	return 0;
}

/* ---- clone ---- */

int veil_template_clone(const struct veil_template *t, const struct veil_hypervisor *hv,
			const struct veil_vm_config *clone_vm, struct veil_vm *vm, veil_err_t *err)
{
	struct veil_vm_config vmc = *clone_vm;
	vmc.memory_file = t->memory;
	vmc.memory_shared = false;
	vmc.incoming = true;
	cleanup_close int state = open(t->state, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (state < 0)
		return veil_fail(err, errno, "template state %s", t->state);
	veil_vm_init(vm);
	if (hv->start(vm, &vmc, err) == 0 && vm->hv->restore_state(vm, state, err) == 0)
		return 0;
	if (vm->hv != NULL)
		vm->hv->teardown(vm);
	return veil_fail_context(err, "cloning the template in %s", t->dir);
}

int veil_template_remove(const struct veil_template *t, veil_err_t *err)
{
	const char *const files[] = { t->meta, t->memory, t->state };
	for (size_t i = 0; i < 3; i++)
		if (unlink(files[i]) < 0 && errno != ENOENT)
			return veil_fail(err, errno, "removing %s", files[i]);
	char leftover[PATH_MAX + 8];
	snprintf(leftover, sizeof(leftover), "%s.new", t->memory);
	unlink(leftover);
	snprintf(leftover, sizeof(leftover), "%s.new", t->state);
	unlink(leftover);
	if (rmdir(t->dir) < 0 && errno != ENOENT)
		return veil_fail(err, errno, "removing %s", t->dir);
	return 0;
}
