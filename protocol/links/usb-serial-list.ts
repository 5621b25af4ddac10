/**
 * Listing serial ports, with a fallback that needs no udev. serialport's `SerialPort.list()` runs
 * `udevadm info -e` on Linux and fails with `spawn udevadm ENOENT` where udev is not installed (containers,
 * minimal images, CI). There the same facts are in sysfs, which the kernel fills without udev:
 *
 *   /sys/class/tty/ttyACM0 -> ../../devices/…/usb1/1-2/1-2:1.0/tty/ttyACM0           (cdc_acm)
 *   /sys/class/tty/ttyACM0/device -> ../../../1-2:1.0                               the USB interface
 *   /sys/class/tty/ttyUSB0 -> ../../devices/…/usb1/1-3/1-3:1.0/ttyUSB0/tty/ttyUSB0   (usb-serial)
 *   /sys/class/tty/ttyUSB0/device -> ../../../ttyUSB0                               the port, below the interface
 *   /sys/devices/…/usb1/1-2/{idVendor,idProduct,serial,manufacturer,product}        the USB device
 *
 * `listSysfsUsbSerialPorts` takes every tty whose `device` link resolves to (or below) a USB interface
 * (a directory named bus-port:config.interface, e.g. `1-2:1.0`), walks up to the USB device directory that
 * holds `idVendor` and `idProduct`, and reports them with `serial` and `manufacturer` (and `product`) when
 * present, in the shape serialport's list returns. Other ttys (virtual consoles, PTYs, on-board UARTs) have
 * no USB interface above them and are left out. It never spawns a process; an unreadable or missing sysfs
 * gives an empty list. `sysfsRoot` and `devDir` are parameters so tests can build a fake tree.
 *
 * `listSerialPorts` is the lister the provisioner uses: serialport's when it can work, sysfs on Linux when
 * `udevadm` is not on PATH or serialport's list fails with ENOENT.
 */
import { constants } from 'node:fs';
import { access, readdir, readFile, realpath } from 'node:fs/promises';
import { basename, delimiter, dirname, join, relative, sep } from 'node:path';
import { SerialPort } from 'serialport';

/** One port, as serialport's list reports it (only `path` is guaranteed), plus the USB product string. */
export interface SerialPortInfo {
  path: string;
  manufacturer: string | undefined;
  serialNumber: string | undefined;
  pnpId: string | undefined;
  locationId: string | undefined;
  /** USB vendor id, 4 lowercase hex digits (e.g. "1209"). */
  vendorId: string | undefined;
  /** USB product id, 4 lowercase hex digits. */
  productId: string | undefined;
  /** USB product string; only the sysfs lister knows it. */
  product?: string | undefined;
}

/** A USB interface directory: bus-port[.port…]:config.interface (Linux drivers/usb/core/message.c). */
const USB_INTERFACE_RE = /^\d+-[\d.]+:\d+\.\d+$/;
/** More ancestors than any real USB topology has (7 tiers of hubs); a bound for a corrupt or cyclic tree. */
const MAX_WALK = 32;

async function readAttr(dir: string, name: string): Promise<string | undefined> {
  try {
    const v = (await readFile(join(dir, name), 'utf8')).trim();
    return v === '' ? undefined : v;
  } catch {
    return undefined;
  }
}

function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r !== '' && !r.startsWith('..') && !r.startsWith(sep);
}

/**
 * The USB device directory above `deviceDir` (the tty's resolved `device` link), or undefined when the path
 * does not pass through a USB interface before reaching a directory with idVendor and idProduct.
 */
async function usbDeviceDirOf(sysfsRoot: string, deviceDir: string): Promise<string | undefined> {
  let dir = deviceDir;
  let viaInterface = false;
  for (let i = 0; i < MAX_WALK && isInside(sysfsRoot, dir); i++) {
    if (viaInterface && (await readAttr(dir, 'idVendor')) !== undefined && (await readAttr(dir, 'idProduct')) !== undefined) return dir;
    if (USB_INTERFACE_RE.test(basename(dir))) viaInterface = true;
    dir = dirname(dir);
  }
  return undefined;
}

/** USB serial ports from sysfs (no udev, no process spawned). */
export async function listSysfsUsbSerialPorts(options: { sysfsRoot?: string; devDir?: string } = {}): Promise<SerialPortInfo[]> {
  const sysfsRoot = await realpath(options.sysfsRoot ?? '/sys').catch(() => undefined);
  if (sysfsRoot === undefined) return [];
  const devDir = options.devDir ?? '/dev';
  const classDir = join(sysfsRoot, 'class', 'tty');
  let names: string[];
  try {
    names = await readdir(classDir);
  } catch {
    return [];
  }
  const ports: SerialPortInfo[] = [];
  for (const name of names.sort()) {
    const deviceDir = await realpath(join(classDir, name, 'device')).catch(() => undefined);
    if (deviceDir === undefined) continue; // virtual ttys have no device
    const usb = await usbDeviceDirOf(sysfsRoot, deviceDir);
    if (usb === undefined) continue;
    const port: SerialPortInfo = {
      path: join(devDir, name),
      manufacturer: await readAttr(usb, 'manufacturer'),
      serialNumber: await readAttr(usb, 'serial'),
      pnpId: undefined,
      locationId: undefined,
      vendorId: (await readAttr(usb, 'idVendor'))?.toLowerCase(),
      productId: (await readAttr(usb, 'idProduct'))?.toLowerCase(),
    };
    const product = await readAttr(usb, 'product');
    if (product !== undefined) port.product = product;
    ports.push(port);
  }
  return ports;
}

/** True when an executable `name` is in one of the directories of `pathEnv` (a PATH value). */
export async function onPath(name: string, pathEnv: string): Promise<boolean> {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export interface ListSerialPortsOptions {
  /** Default process.platform. The sysfs fallback is Linux only. */
  platform?: NodeJS.Platform;
  /** The PATH to look for udevadm in. Default process.env.PATH. */
  pathEnv?: string;
  /** serialport's lister (inject to test). Default SerialPort.list. */
  serialportList?: () => Promise<readonly SerialPortInfo[]>;
  sysfsRoot?: string;
  devDir?: string;
}

function isEnoent(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code === 'ENOENT' || (err instanceof Error && /\bENOENT\b/.test(err.message));
}

/** Serial ports on this machine: serialport's list, or sysfs on a Linux without udev. */
export async function listSerialPorts(options: ListSerialPortsOptions = {}): Promise<SerialPortInfo[]> {
  const platform = options.platform ?? process.platform;
  const serialportList = options.serialportList ?? (() => SerialPort.list());
  const sysfs = (): Promise<SerialPortInfo[]> => {
    const o: { sysfsRoot?: string; devDir?: string } = {};
    if (options.sysfsRoot !== undefined) o.sysfsRoot = options.sysfsRoot;
    if (options.devDir !== undefined) o.devDir = options.devDir;
    return listSysfsUsbSerialPorts(o);
  };
  if (platform === 'linux' && !(await onPath('udevadm', options.pathEnv ?? process.env['PATH'] ?? ''))) return sysfs();
  try {
    return [...(await serialportList())];
  } catch (e) {
    if (platform === 'linux' && isEnoent(e)) return sysfs();
    throw e;
  }
}
