/* The vocabularies of the runtime spec's linux section that veil honours:
 * capability names, seccomp actions, operators, architectures and flags,
 * namespace types, rootfs propagations. config.json parsing checks against
 * them, and `veil features` lists them, so the two cannot disagree. Each
 * table ends with NULL. */
#ifndef VEIL_OCI_NAMES_H
#define VEIL_OCI_NAMES_H

/* Capabilities the guest kernel (Linux 6.1) knows, indexed by number:
 * "CAP_CHOWN" is 0, "CAP_CHECKPOINT_RESTORE" 40. */
extern const char *const oci_capabilities[];
/* The number of "CAP_X", or -1. */
int oci_capability_number(const char *name);

/* seccomp actions in the order of the agent protocol's SeccompAction (from
 * 1): SCMP_ACT_KILL is SCMP_ACT_KILL_THREAD's alias and maps to 1. */
extern const char *const oci_seccomp_actions[];
/* The protocol number of an action name (SCMP_ACT_KILL included), or -1;
 * SCMP_ACT_NOTIFY is known but has none: -2. */
int oci_seccomp_action_number(const char *name);
/* In the order of SeccompOperator, from 1. */
extern const char *const oci_seccomp_operators[];
/* In the order of SeccompArch, from 1. */
extern const char *const oci_seccomp_archs[];
/* Flags honoured; SECCOMP_FILTER_FLAG_TSYNC among them, accepted and
 * meaningless for a single-threaded process, as with runc. */
extern const char *const oci_seccomp_flags[];
/* Index (from 1) of name in a table, or -1. */
int oci_name_number(const char *const *table, const char *name);

/* linux.namespaces[].type values. */
extern const char *const oci_namespace_types[];
/* linux.rootfsPropagation values. */
extern const char *const oci_propagations[];

#endif
