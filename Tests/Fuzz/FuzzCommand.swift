// fuzz: a reproducible fuzzer of SwiftDiffEq's public API (problems x options x algorithms x
// sensealgs). Each case runs in a child process with a time limit; the run fails on any crash,
// hang, success holding NaN/Inf (or ending early), or output printed by a C library.
//
//   swift run -c release fuzz --cases 10000          # the long run
//   swift run fuzz --case 1:4711                      # one case, in this process (a debugger sees a crash)
import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

enum Child {
    static let outcomePrefix = "fuzz-outcome "
    static let casePrefix = "fuzz-case "

    /// Runs one case here and prints its description and outcome (the parent parses both lines).
    static func run(seed: UInt64, index: UInt64, memoryLimitMB: Int) -> Never {
        if memoryLimitMB > 0 {
            // An address-space cap turns unbounded allocation into a failed allocation in this child
            // (a crash the parent counts) instead of swapping out the machine.
            let bytes = rlim_t(memoryLimitMB) * 1 << 20
            var limit = rlimit(rlim_cur: bytes, rlim_max: bytes)
            setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        }
        let c = Generator.makeCase(seed: seed, index: index)
        print(casePrefix + c.summary)
        fflush(stdout)
        let outcome = Interpreter.run(c)
        print(outcomePrefix + outcome.kind.rawValue + "\t" + outcome.detail.replacingOccurrences(of: "\n", with: " "))
        fflush(stdout)
        exit(0)
    }
}

@main
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Fuzz SwiftDiffEq's public API; each case in a child process with a time limit.",
        discussion: """
            Case INDEX of SEED is drawn from a SplitMix64 stream started at mix(SEED ^ mix(INDEX)): the same \
            case on every machine. Exits non-zero on any crash, hang, NaN/Inf success, early success, \
            stray output, and prints the reproducer (fuzz --case SEED:INDEX) of each.
            """)

    @Option(help: "The run's seed.") var seed: UInt64 = 1
    @Option(help: "Number of cases.") var cases: Int = 1000
    @Option(help: "Index of the first case.") var start: UInt64 = 0
    @Option(help: "CPU seconds a case may use before it counts as a hang (wall-clock backstop: 4x).") var timeout: Double = 30
    @Option(help: "Children at a time (1 or 2).") var jobs: Int = 2
    @Option(name: .customLong("case"), help: "Run one case, SEED:INDEX, in this process and print its outcome.") var oneCase: String?
    @Option(help: "Address-space limit of a child in MiB (0: none).") var memoryLimit: Int = 4096
    @Flag(help: "Print every case's class and description.") var verbose = false
    @Flag(help: "Print the descriptions of the cases without running them.") var list = false

    func validate() throws {
        guard (1...2).contains(jobs) else { throw ValidationError("--jobs must be 1 or 2 (the machine is shared)") }
        guard cases >= 0, timeout > 0 else { throw ValidationError("--cases must be >= 0 and --timeout > 0") }
    }

    func run() throws {
        if let oneCase {
            let parts = oneCase.split(separator: ":")
            guard parts.count == 2, let s = UInt64(parts[0]), let i = UInt64(parts[1]) else {
                throw ValidationError("--case takes SEED:INDEX, e.g. 1:4711")
            }
            Child.run(seed: s, index: i, memoryLimitMB: memoryLimit)
        }
        if list {
            for k in 0..<UInt64(cases) {
                print("\(seed):\(start + k) \(Generator.makeCase(seed: seed, index: start + k).summary)")
            }
            return
        }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let executable = FileManager.default.isExecutableFile(atPath: exe.path)
            ? exe : URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let supervisor = Supervisor(executable: executable, seed: seed, timeout: timeout, memoryLimitMB: memoryLimit)
        print("fuzz: seed \(seed), cases \(start)..<\(start + UInt64(cases)), timeout \(timeout) s CPU, \(jobs) jobs")
        fflush(stdout)
        let began = Date()
        let total = cases
        let results = supervisor.runAll(start: start, count: cases, jobs: jobs) { done in
            if done % 500 == 0 || done == total {
                print("  \(done)/\(total) cases, \(Int(Date().timeIntervalSince(began))) s")
                fflush(stdout)
            }
        }
        report(results, seconds: Date().timeIntervalSince(began))
    }

    func report(_ results: [CaseResult], seconds: Double) {
        var counts: [CaseResult.Class: Int] = [:]
        var codes: [String: Int] = [:]
        for r in results {
            counts[r.cls, default: 0] += 1
            if r.cls == .solution { codes[r.detail, default: 0] += 1 }
        }
        if verbose {
            for r in results {
                print("\(r.cls.rawValue) \(seed):\(r.index) \(r.detail) | \(Generator.makeCase(seed: seed, index: r.index).summary)")
            }
        }
        print("cases: \(results.count) in \(Int(seconds)) s")
        for cls in CaseResult.Class.allCases {
            print("  \(cls.rawValue): \(counts[cls] ?? 0)")
        }
        print("  return codes: " + codes.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        let defects = results.filter { $0.cls.isDefect }
        if defects.isEmpty {
            print("no crash, hang, NaN success, early success or stray output")
            return
        }
        print("\(defects.count) defects (reproduce each with the command shown):")
        for r in defects {
            print("  \(r.cls.rawValue): fuzz --case \(seed):\(r.index) -- \(r.detail)")
            print("      \(Generator.makeCase(seed: seed, index: r.index).summary)")
        }
        fflush(stdout)
        Foundation.exit(1)
    }
}
