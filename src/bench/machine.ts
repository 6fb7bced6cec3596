// Describes the machine a bench ran on (CPU, cores, kernel, libc, Node) so results always carry their context.
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_mib: number;
  kernel: string;
  os: string;
  libc: string;
  node: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux, or /proc is hidden: fall back to what Node knows.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const line = readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('PRETTY_NAME='));
    if (line) return line.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '');
  } catch {
    // No os-release: the kernel line still says enough.
  }
  return `${os.type()} ${os.release()}`;
}

/** glibc's version as the running process sees it (no subprocess needed). */
function libcVersion(): string {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'unknown';
}

export function machineInfo(): MachineInfo {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    memory_mib: Math.round(os.totalmem() / 1048576),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName(),
    libc: libcVersion(),
    node: process.version,
  };
}

/** One line for people: "Intel Xeon, 2 cores, 23.5 GiB, Linux 6.1 x64, glibc 2.36, Node v20". */
export function machineLine(m: MachineInfo): string {
  const gib = (m.memory_mib / 1024).toFixed(1);
  return `${m.cpu}, ${m.cores} cores, ${gib} GiB, ${m.kernel}, ${m.os}, ${m.libc}, Node ${m.node}`;
}
