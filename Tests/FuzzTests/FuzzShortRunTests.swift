// A short fixed-seed run of the fuzzer (Tests/Fuzz) as part of the suite: the built `fuzz`
// executable is run as a user would run it, and the test fails on any crash, hang, NaN/Inf
// success, early success or stray output, printing each reproducer. The long run (10,000
// cases) is `swift run -c release fuzz --cases 10000` (README).
import Foundation
import Testing

@Suite struct FuzzShortRunTests {
    /// The products directory holds the test bundle and the executables of the same build.
    static func fuzzExecutable() -> URL? {
        if let path = ProcessInfo.processInfo.environment["FUZZ_EXECUTABLE"] { return URL(fileURLWithPath: path) }
        var candidates = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for dir in candidates {
            let exe = dir.appendingPathComponent("fuzz")
            if FileManager.default.isExecutableFile(atPath: exe.path) { return exe }
        }
        return nil
    }

    @Test func shortRunHasNoCrashHangOrNaNSuccess() throws {
        let exe = try #require(Self.fuzzExecutable(), "no fuzz executable next to the test bundle; `swift build --product fuzz`")
        let process = Process()
        process.executableURL = exe
        // Seed and size fixed: the same 300 cases on every run. The time limit only separates a
        // hang from a slow debug-build solve; nothing is timed.
        process.arguments = ["--seed", "20261207", "--cases", "300", "--timeout", "30", "--jobs", "2"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        #expect(output.contains("cases: 300"), "the run did not finish:\n\(output)")
        #expect(process.terminationStatus == 0, "fuzz found defects:\n\(output)")
    }
}
