// The parent side: runs each case in a child process (this executable, re-invoked with
// `--case SEED:INDEX`) under a time limit, and classifies how it ended. A trap, an out-of-memory
// kill or a C library's `abort` ends only the child, so it is counted instead of ending the run.
import Foundation

/// How one case ended, seen from outside.
struct CaseResult {
    enum Class: String, CaseIterable {
        case threw, solution, gradient
        case crash, hang
        case nanSuccess = "nan-success", earlySuccess = "early-success"
        /// Something other than the child's own report on stdout or stderr (a C library printing).
        case printed
        /// The child exited normally without reporting an outcome.
        case noOutcome = "no-outcome"

        var isDefect: Bool {
            switch self {
            case .threw, .solution, .gradient: return false
            default: return true
            }
        }
    }

    var index: UInt64
    var cls: Class
    var detail: String
    var seconds: Double
}

struct Supervisor {
    var executable: URL
    var seed: UInt64
    var timeout: Double
    var memoryLimitMB: Int

    /// Runs case `index` in a child and classifies the result.
    func run(index: UInt64, scratch: URL) -> CaseResult {
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["--case", "\(seed):\(index)", "--memory-limit", "\(memoryLimitMB)"]
        var environment = ProcessInfo.processInfo.environment
        // One BLAS thread per child: two children on a shared machine, no thread pools to start.
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        let start = Date()
        do {
            let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
            defer {
                try? out.close()
                try? err.close()
            }
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // The limit is on the child's CPU time, so that a machine shared with other builds
            // does not turn a slow case into a "hang"; a wall-clock backstop catches a child
            // that blocks without using CPU.
            var killed: String?
            let pid = process.processIdentifier
            let wallLimit = Swift.max(4 * timeout, timeout + 60)
            var polls = 0
            while process.isRunning {
                polls += 1
                if polls % 25 == 0 {
                    let cpu = cpuSeconds(pid)
                    let wall = Date().timeIntervalSince(start)
                    if cpu > timeout || wall > wallLimit {
                        kill(pid, SIGKILL)
                        killed = String(format: "killed after %.1f s CPU, %.1f s wall", cpu, wall)
                        break
                    }
                }
                usleep(2000)
            }
            process.waitUntilExit()
            let seconds = Date().timeIntervalSince(start)
            if let killed { return CaseResult(index: index, cls: .hang, detail: killed, seconds: seconds) }
            let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            return classify(index: index, process: process, stdout: stdout, stderr: stderr, seconds: seconds)
        } catch {
            return CaseResult(index: index, cls: .crash, detail: "could not start the child: \(error)", seconds: 0)
        }
    }

    func classify(index: UInt64, process: Process, stdout: String, stderr: String, seconds: Double) -> CaseResult {
        let errLines = stderr.split(separator: "\n").map(String.init)
        if process.terminationReason == .uncaughtSignal || process.terminationStatus != 0 {
            let how = process.terminationReason == .uncaughtSignal
                ? "signal \(process.terminationStatus) (\(signalName(process.terminationStatus)))" : "exit \(process.terminationStatus)"
            // The Swift runtime's "Fatal error: ..." line (a debug build) and the crashed
            // thread's top frames from its backtrace (a release build traps without a message).
            var why = errLines.first { $0.contains("Fatal error") } ?? ""
            let frames = crashedFrames(errLines)
            if !frames.isEmpty { why += (why.isEmpty ? "" : " ") + "in " + frames.prefix(3).joined(separator: " <- ") }
            if why.isEmpty { why = errLines.last ?? "" }
            return CaseResult(index: index, cls: .crash, detail: "\(how): \(why.prefix(300))", seconds: seconds)
        }
        var outcome: (String, String)?
        var stray: [String] = []
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if line.hasPrefix(Child.outcomePrefix) {
                let rest = line.dropFirst(Child.outcomePrefix.count)
                let parts = rest.split(separator: "\t", maxSplits: 1).map(String.init)
                outcome = (parts.first ?? "", parts.count > 1 ? parts[1] : "")
            } else if !line.hasPrefix(Child.casePrefix) {
                stray.append(line)
            }
        }
        stray += errLines
        if !stray.isEmpty {
            return CaseResult(index: index, cls: .printed, detail: stray.prefix(3).joined(separator: " / ").prefix(300).description, seconds: seconds)
        }
        guard let (kind, detail) = outcome, let cls = CaseResult.Class(rawValue: kind) else {
            return CaseResult(index: index, cls: .noOutcome, detail: "exit 0 without an outcome line", seconds: seconds)
        }
        return CaseResult(index: index, cls: cls, detail: detail, seconds: seconds)
    }

    /// Runs cases `start ..< start + count` on `jobs` children at a time.
    func runAll(start: UInt64, count: Int, jobs: Int, progress: @escaping (Int) -> Void) -> [CaseResult] {
        let lock = NSLock()
        let shared = SharedProgress()
        let group = DispatchGroup()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(getpid())")
        for worker in 0..<jobs {
            let scratch = base.appendingPathComponent("\(worker)")
            try? FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            group.enter()
            Thread.detachNewThread {
                while true {
                    lock.lock()
                    let k = shared.next
                    shared.next += 1
                    lock.unlock()
                    if k >= count { break }
                    let r = self.run(index: start + UInt64(k), scratch: scratch)
                    lock.lock()
                    shared.results.append(r)
                    shared.done += 1
                    let d = shared.done
                    lock.unlock()
                    progress(d)
                }
                group.leave()
            }
        }
        group.wait()
        try? FileManager.default.removeItem(at: base)
        return shared.results.sorted { $0.index < $1.index }
    }
}

/// The workers' shared state, guarded by the lock in `runAll`.
final class SharedProgress: @unchecked Sendable {
    var next = 0
    var done = 0
    var results: [CaseResult] = []
}

/// Function names of the first frames of the crashed thread in a Swift runtime backtrace
/// (lines like `0  0x... specialized Foo.bar(_:) + 123 in fuzz at File.swift`).
func crashedFrames(_ lines: [String]) -> [String] {
    guard let start = lines.firstIndex(where: { $0.contains(" crashed:") }) else { return [] }
    var names: [String] = []
    for line in lines[(start + 1)...] {
        guard let address = line.range(of: "0x") else {
            if !names.isEmpty { break }
            continue
        }
        let afterAddress = line[address.upperBound...].drop { $0 != " " }.dropFirst()
        guard let plus = afterAddress.range(of: " + ") else { continue }
        var name = String(afterAddress[..<plus.lowerBound])
        if name.hasPrefix("specialized ") { name.removeFirst("specialized ".count) }
        // The standard library's trap machinery and accessors say nothing about the cause.
        let machinery = ["_assertionFailure", "fatalError", "_precondition", "Array.", "ContiguousArray", "_ArrayBuffer", "Range."]
        if machinery.contains(where: { name.contains($0) }) { continue }
        names.append(name)
        if names.count == 4 { break }
    }
    return names
}

/// User plus system CPU time of a running process, from /proc/PID/stat (fields 14 and 15).
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func signalName(_ s: Int32) -> String {
    switch s {
    case SIGILL: return "SIGILL, a Swift trap"
    case SIGTRAP: return "SIGTRAP, a Swift trap"
    case SIGSEGV: return "SIGSEGV"
    case SIGBUS: return "SIGBUS"
    case SIGABRT: return "SIGABRT"
    case SIGFPE: return "SIGFPE"
    case SIGKILL: return "SIGKILL"
    default: return "signal"
    }
}
