/**
 * The serial-port link (transport.ts ByteLink) on node `serialport`: any path the OS opens as a tty —
 * /dev/ttyACM* (USB CDC-ACM), /dev/ttyUSB* (USB-serial bridges), a UART, a PTY. The bytes are the serial
 * carriage of docs/protocol.md §3; this file adds no framing.
 *
 * Errors: PORT_NOT_FOUND (no such path), PORT_OPEN_FAILED (not a tty, permissions, held by another program);
 * after opening, the ByteLink rules (CLOSED / DISCONNECTED; an OS 'error' or 'close' event is a disconnect).
 */
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { ProtocolError } from '../errors.ts';
import type { ByteLink } from '../transport.ts';

export async function openSerialLink(path: string, options: { baudRate?: number } = {}): Promise<ByteLink> {
  if (!existsSync(path)) throw new ProtocolError('PORT_NOT_FOUND', `${path}: no such serial port; check the path (ls /dev/ttyACM* /dev/ttyUSB*) or use tcp://host:port`);
  const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (!err) return resolve();
      const notTty = /Inappropriate ioctl|Is a directory|ENOTTY|EISDIR/i.test(err.message);
      reject(
        new ProtocolError(
          'PORT_OPEN_FAILED',
          notTty
            ? `${path}: is not a serial device (not a tty); give a serial port such as /dev/ttyACM0, a PTY, or tcp://host:port`
            : `${path}: cannot open (${err.message}); check permissions (group dialout) and that no other program holds it`,
          { cause: err },
        ),
      );
    }),
  );
  let dataListener: (c: Uint8Array) => void = () => {};
  let closeListener: (cause?: Error) => void = () => {};
  let closing = false;
  let closed = false;
  port.on('data', (chunk: Buffer) => dataListener(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  const finish = (cause?: Error): void => {
    if (closed) return;
    closed = true;
    closeListener(closing ? undefined : (cause ?? new Error('port closed')));
  };
  port.on('close', (err: Error | null) => finish(err ?? undefined));
  port.on('error', (err: Error) => finish(err));
  return {
    target: path,
    write(bytes) {
      if (closed) return Promise.reject(new ProtocolError(closing ? 'CLOSED' : 'DISCONNECTED', `${path}: port is closed`));
      return new Promise((resolve, reject) => {
        port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), (err) => {
          if (err) reject(new ProtocolError('DISCONNECTED', `${path}: write failed (${err.message})`, { cause: err }));
          else resolve();
        });
      });
    },
    onData(l) {
      dataListener = l;
    },
    onClose(l) {
      closeListener = l;
    },
    close() {
      if (closed || closing) return Promise.resolve();
      closing = true;
      return new Promise((resolve) => {
        if (!port.isOpen) {
          finish();
          resolve();
          return;
        }
        port.close(() => {
          finish();
          resolve();
        });
      });
    },
  };
}
