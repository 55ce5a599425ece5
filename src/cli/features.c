/* veil features: what this runtime honours, in runc's features JSON. The
 * linux lists come from the tables config.json is checked against
 * (oci_names.h), so nothing is listed that veil would refuse. */
#include <seccomp.h>
#include <stdio.h>

#include "cli/cli.h"
#include "lib/oci_spec.h"

static json_object *strings(const char *const *names)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; names[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(names[i]));
	return a;
}

static json_object *bools(const char *const *keys, const int *values)
{
	json_object *o = json_object_new_object();
	for (size_t i = 0; keys[i] != NULL; i++)
		json_object_object_add(o, keys[i], json_object_new_boolean(values[i]));
	return o;
}

static json_object *seccomp(void)
{
	static const char *const extra_actions[] = { "SCMP_ACT_KILL", NULL };
	static const char *const known_flags[] = { "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
						   "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
						   "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL };
	json_object *s = json_object_new_object();
	json_object_object_add(s, "enabled", json_object_new_boolean(1));
	json_object *actions = strings(oci_seccomp_actions);
	json_object_array_add(actions, json_object_new_string(extra_actions[0]));
	json_object_object_add(s, "actions", actions);
	json_object_object_add(s, "operators", strings(oci_seccomp_operators));
	json_object_object_add(s, "archs", strings(oci_seccomp_archs));
	json_object_object_add(s, "knownFlags", strings(known_flags));
	json_object_object_add(s, "supportedFlags", strings(oci_seccomp_flags));
	return s;
}

static json_object *features(void)
{
	static const char *const hooks[] = { "prestart", "createRuntime", "createContainer", "poststart", "poststop", NULL };
	/* What the agent mounts with (validate.c), and bind for small host files copied in. */
	static const char *const mount_options[] = { "ro",	  "rw",	       "nosuid",   "nodev", "noexec",
						     "relatime",  "strictatime", "noatime", "newinstance", "mode",
						     "ptmxmode", "size",	 "nr_inodes", "uid",	   "gid",
						     "bind",	  "rbind",	 NULL };
	static const char *const cgroup_keys[] = { "v1", "v2", "systemd", "systemdUser", NULL };
	/* v1 and v2 hosts for the host cgroup; the guest's is v2. No systemd driver: with
	 * --systemd-cgroup veil writes the scope's path itself. */
	static const int cgroup_values[] = { 1, 1, 0, 0 };
	static const char *const enabled[] = { "enabled", NULL };
	static const int no[] = { 0 };

	json_object *f = json_object_new_object();
	json_object_object_add(f, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(f, "ociVersionMax", json_object_new_string(OCI_SPEC_VERSION));
	json_object_object_add(f, "hooks", strings(hooks));
	json_object_object_add(f, "mountOptions", strings(mount_options));
	json_object *linux = json_object_new_object();
	json_object_object_add(linux, "namespaces", strings(oci_namespace_types));
	json_object_object_add(linux, "capabilities", strings(oci_capabilities));
	json_object_object_add(linux, "cgroup", bools(cgroup_keys, cgroup_values));
	json_object_object_add(linux, "seccomp", seccomp());
	json_object_object_add(linux, "apparmor", bools(enabled, no));
	json_object_object_add(linux, "selinux", bools(enabled, no));
	json_object_object_add(linux, "intelRdt", bools(enabled, no));
	json_object *mount_ext = json_object_new_object();
	json_object_object_add(mount_ext, "idmap", bools(enabled, no));
	json_object_object_add(linux, "mountExtensions", mount_ext);
	json_object_object_add(f, "linux", linux);
	json_object *ann = json_object_new_object();
	const struct scmp_version *v = seccomp_version();
	char version[32];
	snprintf(version, sizeof(version), "%u.%u.%u", v->major, v->minor, v->micro);
	json_object_object_add(ann, "io.github.seccomp.libseccomp.version", json_object_new_string(version));
	json_object_object_add(ann, "org.veil.isolation", json_object_new_string("microvm"));
	json_object_object_add(ann, "org.veil.rootfs", json_object_new_string("erofs-block-image"));
	json_object_object_add(ann, "org.veil.shared-filesystem", json_object_new_string("none"));
	json_object_object_add(f, "annotations", ann);
	return f;
}

int veil_verb_features(struct veil_cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "veil features: takes no arguments\n");
		return 1;
	}
	json_object *f = features();
	printf("%s\n", json_object_to_json_string_ext(f, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(f);
	return 0;
}
