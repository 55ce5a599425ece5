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

#endif
