/**
 * protocol/links/usb-serial-list.ts: listing USB serial ports without udev. A fake sysfs is built in a temp
 * directory with real directories, files and relative symlinks laid out as Linux does for a cdc_acm port
 * (ttyACM: `device` -> the USB interface), a usb-serial port (ttyUSB: `device` -> the port below the
 * interface), an on-board UART, a virtual console and a PTY; the lister must find exactly the two USB ports
 * with their VID:PID and strings. Then the choice between serialport's list and sysfs: udevadm absent from
 * PATH, serialport's list failing with `spawn udevadm ENOENT`, and other failures passed through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { listSerialPorts, listSysfsUsbSerialPorts, onPath, type SerialPortInfo } from '../../protocol/links/usb-serial-list.ts';
import { discoverPorts } from '../../provisioner/targets.ts';

let root: string;
let sys: string;

function dir(p: string): string {
  mkdirSync(join(sys, p), { recursive: true });
  return p;
}
function attrs(p: string, values: Record<string, string>): void {
  dir(p);
  for (const [k, v] of Object.entries(values)) writeFileSync(join(sys, p, k), `${v}\n`);
}
/** A relative symlink at `from` pointing to `to` (both relative to the sysfs root), as sysfs has them. */
function link(from: string, to: string): void {
  mkdirSync(dirname(join(sys, from)), { recursive: true });
  symlinkSync(relative(dirname(join(sys, from)), join(sys, to)), join(sys, from));
}
/** /sys/class/tty/NAME -> the tty's class directory; NAME/device -> `device` (when given). */
function tty(name: string, classDir: string, device?: string): void {
  dir(classDir);
  writeFileSync(join(sys, classDir, 'dev'), '166:0\n');
  if (device !== undefined) link(`${classDir}/device`, device);
  link(`class/tty/${name}`, classDir);
}

const HC = 'devices/pci0000:00/0000:00:14.0';

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tf-sysfs-'));
  sys = join(root, 'sys');
  // The root hub has ids too: the lister must stop at the device right above the interface.
  attrs(`${HC}/usb1`, { idVendor: '1d6b', idProduct: '0002', manufacturer: 'Linux xhci-hcd', product: 'xHCI Host Controller' });

  // A tokenforge token on cdc_acm: ttyACM0's device is the interface 1-2:1.0.
  attrs(`${HC}/usb1/1-2`, { idVendor: '1209', idProduct: '7F00', serial: 'TF00000001', manufacturer: 'tokenforge', product: 'tokenforge token' });
  attrs(`${HC}/usb1/1-2/1-2:1.0`, { bInterfaceClass: '02', bInterfaceNumber: '00' });
  tty('ttyACM0', `${HC}/usb1/1-2/1-2:1.0/tty/ttyACM0`, `${HC}/usb1/1-2/1-2:1.0`);

  // An FTDI bridge behind a hub on usb-serial: ttyUSB0's device is the port directory below interface 1-3.1:1.0.
  attrs(`${HC}/usb1/1-3`, { idVendor: '05e3', idProduct: '0610', product: 'USB2.0 Hub' });
  attrs(`${HC}/usb1/1-3/1-3.1`, { idVendor: '0403', idProduct: '6001', serial: 'A50285BI', manufacturer: 'FTDI', product: 'FT232R USB UART' });
  attrs(`${HC}/usb1/1-3/1-3.1/1-3.1:1.0`, { bInterfaceClass: 'ff' });
  dir(`${HC}/usb1/1-3/1-3.1/1-3.1:1.0/ttyUSB0`);
  tty('ttyUSB0', `${HC}/usb1/1-3/1-3.1/1-3.1:1.0/ttyUSB0/tty/ttyUSB0`, `${HC}/usb1/1-3/1-3.1/1-3.1:1.0/ttyUSB0`);

  // A USB device without serial or manufacturer strings.
  attrs(`${HC}/usb1/1-4`, { idVendor: '2341', idProduct: '0043' });
  attrs(`${HC}/usb1/1-4/1-4:1.0`, {});
  tty('ttyACM1', `${HC}/usb1/1-4/1-4:1.0/tty/ttyACM1`, `${HC}/usb1/1-4/1-4:1.0`);

  // Not USB: an on-board UART (platform device), a virtual console and a PTY (no device link).
  dir('devices/platform/serial8250');
  tty('ttyS0', 'devices/platform/serial8250/tty/ttyS0', 'devices/platform/serial8250');
  tty('tty0', 'devices/virtual/tty/tty0');
  tty('ptmx', 'devices/virtual/tty/ptmx');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const ACM0: SerialPortInfo = { path: '/dev/ttyACM0', manufacturer: 'tokenforge', serialNumber: 'TF00000001', pnpId: undefined, locationId: undefined, vendorId: '1209', productId: '7f00', product: 'tokenforge token' };
const ACM1: SerialPortInfo = { path: '/dev/ttyACM1', manufacturer: undefined, serialNumber: undefined, pnpId: undefined, locationId: undefined, vendorId: '2341', productId: '0043' };
const USB0: SerialPortInfo = { path: '/dev/ttyUSB0', manufacturer: 'FTDI', serialNumber: 'A50285BI', pnpId: undefined, locationId: undefined, vendorId: '0403', productId: '6001', product: 'FT232R USB UART' };

describe('listSysfsUsbSerialPorts', () => {
  it('finds the cdc_acm and usb-serial ports with their VID:PID and strings, and nothing else', async () => {
    expect(await listSysfsUsbSerialPorts({ sysfsRoot: sys })).toEqual([ACM0, ACM1, USB0]);
  });

  it('names device nodes in devDir', async () => {
    expect((await listSysfsUsbSerialPorts({ sysfsRoot: sys, devDir: '/tmp/dev' })).map((p) => p.path)).toEqual(['/tmp/dev/ttyACM0', '/tmp/dev/ttyACM1', '/tmp/dev/ttyUSB0']);
  });

  it('gives an empty list for a missing or empty sysfs, never an error', async () => {
    await expect(listSysfsUsbSerialPorts({ sysfsRoot: join(root, 'nowhere') })).resolves.toEqual([]);
    mkdirSync(join(root, 'empty'));
    await expect(listSysfsUsbSerialPorts({ sysfsRoot: join(root, 'empty') })).resolves.toEqual([]);
  });

  it('runs on this machine without spawning anything', async () => {
    expect(Array.isArray(await listSysfsUsbSerialPorts())).toBe(true);
  });
});

describe('listSerialPorts: serialport or sysfs', () => {
  const refuse = (): Promise<never> => Promise.reject(new Error('serialport list must not run'));
  let emptyPath: string;
  let udevPath: string;
  beforeAll(() => {
    emptyPath = join(root, 'bin-empty');
    mkdirSync(emptyPath);
    udevPath = join(root, 'bin-udev');
    mkdirSync(udevPath);
    writeFileSync(join(udevPath, 'udevadm'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(udevPath, 'udevadm'), 0o755);
  });

  it('finds udevadm only where PATH has it', async () => {
    expect(await onPath('udevadm', emptyPath)).toBe(false);
    expect(await onPath('udevadm', `${emptyPath}:${udevPath}`)).toBe(true);
  });

  it('reads sysfs when udevadm is not on PATH (serialport is not asked)', async () => {
    expect(await listSerialPorts({ platform: 'linux', pathEnv: emptyPath, serialportList: refuse, sysfsRoot: sys })).toEqual([ACM0, ACM1, USB0]);
  });

  it("uses serialport's list when udevadm is there", async () => {
    const fromUdev: SerialPortInfo[] = [{ ...ACM1, path: '/dev/ttyACM9' }];
    expect(await listSerialPorts({ platform: 'linux', pathEnv: udevPath, serialportList: () => Promise.resolve(fromUdev), sysfsRoot: sys })).toEqual(fromUdev);
  });

  it("falls back to sysfs when serialport's list fails with spawn udevadm ENOENT", async () => {
    const enoent = (): Promise<never> => Promise.reject(Object.assign(new Error('spawn udevadm ENOENT'), { code: 'ENOENT', syscall: 'spawn udevadm' }));
    expect(await listSerialPorts({ platform: 'linux', pathEnv: udevPath, serialportList: enoent, sysfsRoot: sys })).toEqual([ACM0, ACM1, USB0]);
  });

  it('passes other failures through, and does not use sysfs off Linux', async () => {
    const boom = (): Promise<never> => Promise.reject(new Error('udevadm exited with error code: 1'));
    await expect(listSerialPorts({ platform: 'linux', pathEnv: udevPath, serialportList: boom, sysfsRoot: sys })).rejects.toThrow('error code: 1');
    const enoent = (): Promise<never> => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }));
    await expect(listSerialPorts({ platform: 'darwin', pathEnv: emptyPath, serialportList: enoent, sysfsRoot: sys })).rejects.toThrow('ENOENT');
  });

  it('--discover finds the token by VID:PID through the sysfs lister', async () => {
    const list = () => listSerialPorts({ platform: 'linux', pathEnv: emptyPath, serialportList: refuse, sysfsRoot: sys });
    expect(await discoverPorts(undefined, list)).toEqual([{ kind: 'port', path: '/dev/ttyACM0' }]);
    expect(await discoverPorts([{ vendorId: '0403', productId: '6001' }], list)).toEqual([{ kind: 'port', path: '/dev/ttyUSB0' }]);
  });

  it('lists ports on this machine with the real PATH (udevadm or not) as an array', async () => {
    expect(Array.isArray(await listSerialPorts())).toBe(true);
  });
});
