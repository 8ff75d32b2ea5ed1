import Foundation

/// The peers' shared spiral data and initial weights (`Data/peers/`, copied from the peer
/// protocol's folder; format in `Data/peers/README.md`), read from the repository so that a
/// script runs from a clone alone.
public struct PeerSpiral {
    public let u0: [Double]
    public let tspan: (Double, Double)
    public let ts: [Double]
    /// `data[k]` is the state at `ts[k]`.
    public let data: [[Double]]
    /// Rows (out, in), as the peers store them.
    public let W1: [[Double]], b1: [Double], W2: [[Double]], b2: [Double]

    private struct DataFile: Decodable {
        let u0: [Double]
        let tspan: [Double]
        let ts: [Double]
        let data: [[Double]]
    }
    private struct InitFile: Decodable {
        let W1: [[Double]], b1: [Double], W2: [[Double]], b2: [Double]
    }

    /// Reads `spiral_data.json` and `spiral_init_seed<seed>.json` from `Data/peers/` under the
    /// working directory or, failing that, under the repository this file was built from.
    public init(seed: Int = 0) throws {
        let folder = try PeerSpiral.folder()
        let d = try JSONDecoder().decode(DataFile.self, from: Data(contentsOf: folder.appendingPathComponent("spiral_data.json")))
        let w = try JSONDecoder().decode(
            InitFile.self, from: Data(contentsOf: folder.appendingPathComponent("spiral_init_seed\(seed).json")))
        guard d.tspan.count == 2, d.ts.count == d.data.count else { throw ScriptError("malformed spiral_data.json") }
        u0 = d.u0
        tspan = (d.tspan[0], d.tspan[1])
        ts = d.ts
        data = d.data
        W1 = w.W1
        b1 = w.b1
        W2 = w.W2
        b2 = w.b2
    }

    public static func folder() throws -> URL {
        let local = URL(fileURLWithPath: "Data/peers", isDirectory: true)
        if FileManager.default.fileExists(atPath: local.appendingPathComponent("spiral_data.json").path) { return local }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Data/peers", isDirectory: true)
        if FileManager.default.fileExists(atPath: repo.appendingPathComponent("spiral_data.json").path) { return repo }
        throw ScriptError("Data/peers/spiral_data.json not found (run from the repository root)")
    }
}

/// The Python peers of the benchmarks (`Benchmarks/peers/*.py`), run with the interpreter of the
/// `.venv-peers/` environment in the working directory (`scripts/install-peers.sh` makes it).
/// A peer script prints one JSON object as its last line; a peer that is missing, fails to
/// import or exits non-zero gives `nil`, so a benchmark skips it cleanly. The peer's standard
/// error is discarded: its libraries' warnings are not ours to print.
public enum PythonPeers {
    public static let interpreter = URL(fileURLWithPath: ".venv-peers/bin/python")

    /// Whether the peers' environment exists (a benchmark prints why it skips them otherwise).
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: interpreter.path) }

    /// Runs `Benchmarks/peers/<script>` with `arguments` and decodes its last output line.
    public static func run(_ script: String, _ arguments: [String]) -> [String: Any]? {
        guard isAvailable else { return nil }
        let process = Process()
        process.executableURL = interpreter
        process.arguments = ["Benchmarks/peers/" + script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
            return nil
        }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }
}
