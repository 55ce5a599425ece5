/* Names the host and the guest must agree on beyond agent.proto's messages,
 * defined once for both sides. */
#ifndef VEIL_PROTO_CONTRACT_H
#define VEIL_PROTO_CONTRACT_H

/* The virtio-serial port of the agent channel: QEMU's virtserialport name,
 * found in the guest as /sys/class/virtio-ports/<port>/name. */
#define VEIL_AGENT_PORT "veil.agent"

/* The virtio-serial port of a confidential guest's TEE services (proto/tee.h). */
#define VEIL_TEE_PORT "veil.tee"

/* The kernel command line parameter that makes the agent a confidential
 * guest's: veil.tee=snp, tdx or emulated. The command line is measured, so
 * the host cannot take it away without changing the launch measurement. */
#define VEIL_TEE_CMDLINE "veil.tee="

/* The virtio-blk serial of a container's rootfs image, which the host sets and
 * the guest finds as /sys/block/vdX/serial (CreateContainer.rootfs_serial). */
#define VEIL_ROOTFS_SERIAL "veil-rootfs"

/* The virtio-blk serial of a container's writable layer, a host-side ext4
 * image that outlives the VM (shared_fs = "none", non-confidential;
 * CreateContainer.upper_serial). */
#define VEIL_UPPER_SERIAL "veil-upper"

/* The virtio-fs tag of a container's shared tree (shared_fs = "virtio-fs";
 * CreateContainer.shared_fs_tag), and the kernel's bound on one. */
#define VEIL_FS_TAG "veil-fs"
#define VEIL_FS_TAG_MAX 36

/* In the shared tree: the container's rootfs, and each shared bind mount's
 * source under its own name, VEIL_FS_MOUNT_PREFIX and its index in the
 * spec's mounts ("m3"). */
#define VEIL_FS_ROOTFS "rootfs"
#define VEIL_FS_MOUNT_PREFIX "m"

#endif
