#!/bin/busybox sh
# /init of the test VM's initramfs: the host's root filesystem, shared read-only
# over 9p, becomes the guest's root under a tmpfs overlay, and systemd boots
# from it into ocirun-vm.target, which runs the job the host left in the
# writable "results" share and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "ocirun-vm: init: $*" >/dev/console; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod "/modules/$m.ko" 2>/dev/null || fail "insmod $m"; done
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro,cache=loose hostroot /lower || fail "mount hostroot"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot || fail "mount overlay"
mkdir -p /newroot/mnt/ocirun-vm
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /newroot/mnt/ocirun-vm || fail "mount results"
# The host's state that must not leak into the guest's boot (/.dockerenv would make systemd
# believe it runs in a container and ignore the kernel command line).
rm -f /newroot/etc/fstab /newroot/.dockerenv /newroot/run/.containerenv
# A machine id of its own, so systemd sees no first boot (which presets every unit: ~40 s under TCG).
tr -d '-' < /proc/sys/kernel/random/uuid > /newroot/etc/machine-id
# Debian's tmpfiles.d/tmp.conf says "D /tmp": systemd-tmpfiles-setup.service empties /tmp at boot
# (tmpfiles.d(5), D with --remove). Here that would delete, in the guest's view, a checkout under /tmp
# while its tests run. The same name in /etc overrides it with a "d" that only makes the directory.
mkdir -p /newroot/etc/tmpfiles.d
echo 'd /tmp 1777 root root -' > /newroot/etc/tmpfiles.d/tmp.conf
cp /units/* /newroot/etc/systemd/system/ || fail "copy units"
# Booted into ocirun-vm.target alone: none of the host's units (getty, timers, tmpfiles over the whole host tree).
ln -sf ocirun-vm.target /newroot/etc/systemd/system/default.target
echo "ocirun-vm: init: switching to systemd ($(cat /proc/cmdline))" >/dev/console
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /lib/systemd/systemd
