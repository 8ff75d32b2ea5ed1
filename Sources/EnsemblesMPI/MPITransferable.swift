import DiffEqCore
import Ensembles

/// Bytes on their way to another rank. Values are written in the machine's own byte order, so
/// every rank must run on the same architecture (a homogeneous cluster; MPI's `MPI_BYTE` does
/// no conversion).
public struct MPIBuffer {
    public private(set) var bytes: [UInt8] = []
    public init() {}

    public mutating func append<T: BitwiseCopyable>(raw value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }
}

/// Reads what an ``MPIBuffer`` holds, in the same order; reading past the end throws.
public struct MPIReader {
    let bytes: [UInt8]
    var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func read<T: BitwiseCopyable>(raw type: T.Type) throws(MPIError) -> T {
        let size = MemoryLayout<T>.size
        guard offset + size <= bytes.count else {
            throw MPIError(misuse: "message ended after \(bytes.count) bytes, reading \(T.self) at \(offset)", call: "decode")
        }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += size
        return value
    }
}

/// A value an MPI ensemble can send between ranks: an output, its record, a failure. Encoding
/// keeps every bit (a `Double` travels as its 8 bytes), so a value decoded on another rank is
/// identical to the one sent.
public protocol MPITransferable: Sendable {
    func encode(to buffer: inout MPIBuffer)
    init(from reader: inout MPIReader) throws(MPIError)
}

extension Double: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: bitPattern) }
    public init(from reader: inout MPIReader) throws(MPIError) { self.init(bitPattern: try reader.read(raw: UInt64.self)) }
}
extension Float: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: bitPattern) }
    public init(from reader: inout MPIReader) throws(MPIError) { self.init(bitPattern: try reader.read(raw: UInt32.self)) }
}
extension Int: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: Int64(self)) }
    public init(from reader: inout MPIReader) throws(MPIError) {
        let v = try reader.read(raw: Int64.self)
        guard let i = Int(exactly: v) else { throw MPIError(misuse: "Int \(v) out of range", call: "decode") }
        self = i
    }
}
extension UInt64: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: self) }
    public init(from reader: inout MPIReader) throws(MPIError) { self = try reader.read(raw: UInt64.self) }
}
extension Int32: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: self) }
    public init(from reader: inout MPIReader) throws(MPIError) { self = try reader.read(raw: Int32.self) }
}
extension Bool: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: UInt8(self ? 1 : 0)) }
    public init(from reader: inout MPIReader) throws(MPIError) { self = try reader.read(raw: UInt8.self) != 0 }
}
extension String: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { Array(utf8).encode(to: &buffer) }
    public init(from reader: inout MPIReader) throws(MPIError) { self = String(decoding: try [UInt8](from: &reader), as: UTF8.self) }
}
extension UInt8: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { buffer.append(raw: self) }
    public init(from reader: inout MPIReader) throws(MPIError) { self = try reader.read(raw: UInt8.self) }
}
extension Array: MPITransferable where Element: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        count.encode(to: &buffer)
        for e in self { e.encode(to: &buffer) }
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        let n = try Int(from: &reader)
        // A count larger than the bytes left is a corrupt message, not an allocation to attempt.
        guard n >= 0, n <= reader.bytes.count - reader.offset else {
            throw MPIError(misuse: "array of \(n) elements in a message of \(reader.bytes.count) bytes", call: "decode")
        }
        self = []
        reserveCapacity(n)
        for _ in 0..<n { append(try Element(from: &reader)) }
    }
}
extension Optional: MPITransferable where Wrapped: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        switch self {
        case .none: false.encode(to: &buffer)
        case .some(let w):
            true.encode(to: &buffer)
            w.encode(to: &buffer)
        }
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self = try Bool(from: &reader) ? .some(try Wrapped(from: &reader)) : .none
    }
}
extension SIMD2: MPITransferable where Scalar: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { for i in indices { self[i].encode(to: &buffer) } }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self.init()
        for i in indices { self[i] = try Scalar(from: &reader) }
    }
}
extension SIMD3: MPITransferable where Scalar: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { for i in indices { self[i].encode(to: &buffer) } }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self.init()
        for i in indices { self[i] = try Scalar(from: &reader) }
    }
}
extension SIMD4: MPITransferable where Scalar: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) { for i in indices { self[i].encode(to: &buffer) } }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self.init()
        for i in indices { self[i] = try Scalar(from: &reader) }
    }
}

extension ReturnCode: MPITransferable {
    private static let all: [ReturnCode] = [
        .default, .success, .terminated, .maxIters, .dtLessThanMin, .unstable, .convergenceFailure, .failure,
        .globalToleranceNotMet,
    ]
    public func encode(to buffer: inout MPIBuffer) {
        // Every case is in `all` (an exhaustive switch in `description` lists the same cases).
        let code = Self.all.firstIndex(of: self) ?? Self.all.count
        code.encode(to: &buffer)
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        let code = try Int(from: &reader)
        guard Self.all.indices.contains(code) else { throw MPIError(misuse: "unknown return code \(code)", call: "decode") }
        self = Self.all[code]
    }
}

extension LossGradient: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        loss.encode(to: &buffer)
        gradient.encode(to: &buffer)
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self.init(loss: try Double(from: &reader), gradient: try [Double](from: &reader))
    }
}

extension TrajectoryRecord: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        index.encode(to: &buffer)
        attempts.encode(to: &buffer)
        retcode.encode(to: &buffer)
        message.encode(to: &buffer)
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        self.init(
            index: try Int(from: &reader), attempts: try Int(from: &reader), retcode: try ReturnCode(from: &reader),
            message: try String?(from: &reader))
    }
}

extension TrajectoryFailure: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        index.encode(to: &buffer)
        self.repeat.encode(to: &buffer)
        stage.rawValue.encode(to: &buffer)
        message.encode(to: &buffer)
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        let index = try Int(from: &reader)
        let attempt = try Int(from: &reader)
        let raw = try String(from: &reader)
        guard let stage = Stage(rawValue: raw) else { throw MPIError(misuse: "unknown failure stage \(raw)", call: "decode") }
        self.init(index: index, repeat: attempt, stage: stage, message: try String(from: &reader))
    }
}

extension TrajectoryOutcome: MPITransferable where Output: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        switch self {
        case .finished(let record, let output):
            UInt8(0).encode(to: &buffer)
            record.encode(to: &buffer)
            output.encode(to: &buffer)
        case .failed(let failure):
            UInt8(1).encode(to: &buffer)
            failure.encode(to: &buffer)
        }
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        switch try UInt8(from: &reader) {
        case 0: self = .finished(try TrajectoryRecord(from: &reader), try Output(from: &reader))
        case 1: self = .failed(try TrajectoryFailure(from: &reader))
        case let tag: throw MPIError(misuse: "unknown outcome tag \(tag)", call: "decode")
        }
    }
}

extension BatchDecision: MPITransferable {
    public func encode(to buffer: inout MPIBuffer) {
        switch self {
        case .proceed: UInt8(0).encode(to: &buffer)
        case .stop: UInt8(1).encode(to: &buffer)
        case .fail(let f):
            UInt8(2).encode(to: &buffer)
            f.encode(to: &buffer)
        }
    }
    public init(from reader: inout MPIReader) throws(MPIError) {
        switch try UInt8(from: &reader) {
        case 0: self = .proceed
        case 1: self = .stop
        case 2: self = .fail(try TrajectoryFailure(from: &reader))
        case let tag: throw MPIError(misuse: "unknown decision tag \(tag)", call: "decode")
        }
    }
}
