#include "runtime/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/oci_spec.h"
#include "runtime/monitor_msg.h"

#define STATE_FILE_MAX (1u << 20)

char *veil_state_dir(const char *root, const char *id)
{
	char *p;
	return asprintf(&p, "%s/%s", root, id) < 0 ? NULL : p;
}

char *veil_state_file(const char *root, const char *id, const char *name)
{
	char *p;
	return asprintf(&p, "%s/%s/%s", root, id, name) < 0 ? NULL : p;
}

void veil_rfc3339_now(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/* Fields 3 (state), 9 (flags) and 22 (start time) of /proc/PID/stat. */
static bool process_stat(pid_t pid, char *state, unsigned long *flags, unsigned long long *start)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return false;
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	/* comm may contain spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(text, ')');
	return p != NULL && sscanf(p + 1, " %c %*s %*s %*s %*s %*s %lu %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
				   state, flags, start) == 3;
}

unsigned long long veil_process_start_time(pid_t pid)
{
	char state;
	unsigned long flags;
	unsigned long long start;
	return process_stat(pid, &state, &flags, &start) && state != 'Z' ? start : 0;
}

bool veil_process_alive(pid_t pid, unsigned long long start)
{
	/* The kernel's PF_EXITING: set first thing in exit, before the files close. */
	const unsigned long exiting = 0x4;
	char state;
	unsigned long flags;
	unsigned long long now;
	return pid > 0 && process_stat(pid, &state, &flags, &now) && state != 'Z' && !(flags & exiting) && now == start;
}

bool veil_state_monitor_alive(const struct veil_state *s)
{
	return s->pid > 0 && s->pid_start != 0 && veil_process_start_time(s->pid) == s->pid_start;
}

int veil_state_write(const char *root, const struct veil_state *s, veil_err_t *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(s->rootfs));
	json_object_object_add(o, "created", json_object_new_string(s->created));
	json_object_object_add(o, "pid", json_object_new_int(s->pid));
	json_object_object_add(o, "pid_start", json_object_new_uint64(s->pid_start));
	if (s->annotations != NULL)
		json_object_object_add(o, "annotations", json_object_get(s->annotations));
	if (s->cgroup_path != NULL)
		json_object_object_add(o, "cgroup_path", json_object_new_string(s->cgroup_path));
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	cleanup_free char *path = veil_state_file(root, s->id, "state.json");
	int rc = veil_write_file_atomic(path, text, strlen(text), err);
	json_object_put(o);
	return rc;
}

static char *dup_string_field(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

int veil_state_read(const char *root, const char *id, struct veil_state *s, veil_err_t *err)
{
	memset(s, 0, sizeof(*s));
	cleanup_free char *dir = veil_state_dir(root, id);
	cleanup_free char *path = veil_state_file(root, id, "state.json");
	veil_err_t read_err = NULL;
	cleanup_free char *text = veil_read_file(path, STATE_FILE_MAX, NULL, &read_err);
	if (text == NULL) {
		int e = read_err->errnum;
		veil_error_free(&read_err);
		if (e == ENOENT && access(dir, F_OK) < 0)
			return veil_fail_tagged(err, ENOENT, "container does not exist");
		return veil_fail_tagged(err, EBADMSG, "container %s: state file missing or unreadable (a crashed create?); "
					       "delete --force removes it", id);
	}
	json_object *o = json_tokener_parse(text);
	json_object *pid, *start;
	if (o == NULL || !json_object_object_get_ex(o, "pid", &pid) ||
	    !json_object_object_get_ex(o, "pid_start", &start)) {
		json_object_put(o);
		return veil_fail_tagged(err, EBADMSG, "container %s: state file is corrupt; delete --force removes it", id);
	}
	s->id = dup_string_field(o, "id");
	s->bundle = dup_string_field(o, "bundle");
	s->rootfs = dup_string_field(o, "rootfs");
	s->created = dup_string_field(o, "created");
	s->cgroup_path = dup_string_field(o, "cgroup_path");
	s->pid = json_object_get_int(pid);
	s->pid_start = json_object_get_uint64(start);
	json_object *ann;
	if (json_object_object_get_ex(o, "annotations", &ann))
		s->annotations = json_object_get(ann);
	json_object_put(o);
	if (s->id == NULL || strcmp(s->id, id) != 0 || s->bundle == NULL || s->created == NULL) {
		veil_state_free(s);
		return veil_fail_tagged(err, EBADMSG, "container %s: state file is corrupt; delete --force removes it", id);
	}
	return 0;
}

void veil_state_free(struct veil_state *s)
{
	free(s->id);
	free(s->bundle);
	free(s->rootfs);
	free(s->created);
	free(s->cgroup_path);
	json_object_put(s->annotations);
	memset(s, 0, sizeof(*s));
}

#define STOPPED_MARK "stopped"

void veil_state_mark_stopped(const char *root, const char *id)
{
	cleanup_free char *path = veil_state_file(root, id, STOPPED_MARK);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd);
}

const char *veil_state_status(const char *root, const struct veil_state *s)
{
	if (!veil_state_monitor_alive(s))
		return "stopped";
	static struct veil_monitor_reply reply;
	veil_err_t err = NULL;
	if (veil_monitor_call(root, s->id, &(struct veil_monitor_request){ .op = VEIL_MONITOR_STATE }, &reply, &err) < 0) {
		veil_error_free(&err);
		/* Alive but not answering: still booting the VM, or taking it down
		 * (which builders such as buildah poll for right after start). */
		cleanup_free char *mark = veil_state_file(root, s->id, STOPPED_MARK);
		return access(mark, F_OK) == 0 ? "stopped" : "creating";
	}
	return reply.status[0] != '\0' ? reply.status : "stopped";
}

json_object *veil_state_oci_json(const struct veil_state *s, const char *status)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ociVersion", json_object_new_string(OCI_SPEC_VERSION));
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "pid", json_object_new_int(strcmp(status, "stopped") == 0 ? 0 : s->pid));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "bundle", json_object_new_string(s->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(s->rootfs ? s->rootfs : ""));
	json_object_object_add(o, "created", json_object_new_string(s->created));
	json_object_object_add(o, "owner", json_object_new_string(""));
	json_object_object_add(o, "annotations",
			       s->annotations ? json_object_get(s->annotations) : json_object_new_object());
	return o;
}
