import Foundation

/// What every reproducibility script shares: its output folder, JSON and CSV writers, gnuplot,
/// and timing. Scripts use the library's public API only; this module holds no numerics.
public struct ScriptOutput {
    public let folder: URL
    public let name: String

    /// Parses `--output DIR` (default `output/<name>`) and creates the folder.
    public init(name: String, arguments: [String] = CommandLine.arguments) throws {
        self.name = name
        var path = "output/\(name)"
        if let i = arguments.firstIndex(of: "--output"), i + 1 < arguments.count { path = arguments[i + 1] }
        folder = URL(fileURLWithPath: path, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    public func url(_ file: String) -> URL { folder.appendingPathComponent(file) }

    /// Writes `value` as pretty-printed JSON with sorted keys.
    public func writeJSON<T: Encodable>(_ value: T, to file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        try encoder.encode(value).write(to: url(file))
    }

    /// Writes a CSV file with a header row; numbers at full precision.
    public func writeCSV(_ file: String, header: [String], rows: [[Double]]) throws {
        var text = header.joined(separator: ",") + "\n"
        for row in rows { text += row.map { "\($0)" }.joined(separator: ",") + "\n" }
        try text.write(to: url(file), atomically: true, encoding: .utf8)
    }

    /// Runs a gnuplot script (working directory: the output folder). Throws when gnuplot is
    /// missing or fails, so that a run without its plots never looks complete.
    public func gnuplot(_ script: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gnuplot"]
        process.currentDirectoryURL = folder
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(("set terminal pngcairo size 1000,700 enhanced font 'Sans,11'\n" + script).utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw ScriptError("gnuplot failed (\(process.terminationStatus)): \(message)")
        }
    }
}

public struct ScriptError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// CPU seconds consumed by the calling thread (`CLOCK_THREAD_CPUTIME_ID`): the clock of the
/// per-step and per-call micro-benchmarks, where wall time would also count the slices in which
/// another process holds the core (on a loaded two-core VM that moved the same figure by 2x).
/// The work-precision tables keep the median wall time their issues ask for (``medianTime``).
@inline(__always)
public func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Median wall time in seconds of `repeats` runs of `body` (after one warm-up run).
public func medianTime(repeats: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    times.sort()
    return times[times.count / 2]
}

/// `x` with `digits` significant digits, for reports.
public func sig(_ x: Double, _ digits: Int = 4) -> String {
    String(format: "%.\(digits)g", x)
}

/// Pads `s` to `width` characters (right-aligned), for tables.
public func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

/// Median wall seconds per call of `body`: each sample repeats the call until it lasts at least
/// `minimumSample` seconds (so fast calls are not dominated by clock resolution), after one
/// warm-up sample.
public func timePerCall(samples: Int = 5, minimumSample: Double = 0.02, _ body: () throws -> Void) rethrows -> Double {
    var reps = 1
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<reps { try body() }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if elapsed > minimumSample { break }
        reps *= 2
    }
    let perSample = reps
    let seconds = try medianTime(repeats: samples) { for _ in 0..<perSample { try body() } }
    return seconds / Double(perSample)
}

/// Minimum thread CPU seconds per call of `body` over `samples` samples, each repeating the
/// call until it lasts at least 20 ms (after one warm-up sample).
public func cpuTimePerCall(samples: Int = 15, _ body: () throws -> Void) rethrows -> Double {
    var reps = 1
    while true {
        let start = threadCPUSeconds()
        for _ in 0..<reps { try body() }
        if threadCPUSeconds() - start > 0.02 { break }
        reps *= 2
    }
    var best = Double.infinity
    for _ in 0..<samples {
        let start = threadCPUSeconds()
        for _ in 0..<reps { try body() }
        best = Swift.min(best, (threadCPUSeconds() - start) / Double(reps))
    }
    return best
}

/// `y` at `x` on the piecewise-linear curve through `points` in log-log space (points sorted by
/// `x` in either direction); `nil` outside the curve's range.
public func logLogInterpolate(_ points: [(x: Double, y: Double)], at x: Double) -> Double? {
    let pts = points.filter { $0.x > 0 && $0.y > 0 && $0.x.isFinite }.sorted { $0.x < $1.x }
    guard let first = pts.first, let last = pts.last, x >= first.x, x <= last.x else { return nil }
    for (a, b) in zip(pts, pts.dropFirst()) where a.x <= x && x <= b.x {
        if a.x == b.x { return Swift.min(a.y, b.y) }
        let s = (log(x) - log(a.x)) / (log(b.x) - log(a.x))
        return exp(log(a.y) + s * (log(b.y) - log(a.y)))
    }
    return nil
}

/// Keeps a computed value alive so the optimizer cannot drop the work that produced it.
@inline(never)
public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
