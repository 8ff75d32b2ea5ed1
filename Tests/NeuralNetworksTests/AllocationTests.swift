import DenseLinearAlgebra
import Foundation
import Testing

@testable import NeuralNetworks

/// Evaluation and pullback reuse the workspace's and the caller's buffers: their storage never
/// moves (no copy-on-write copy, no regrowth) over repeated calls, for vectors and batches.
///
/// This is the structural half of the allocation check. The other half counts every malloc of
/// the process with `scripts/malloc-count.c` (LD_PRELOAD) around a release build running the
/// same loop 10 and 10000 times; equal counts mean the loop body allocates nothing (measured:
/// 295 and 295 mallocs for the spiral network, vector and 8-column batch). A debug build is no
/// test of that: unspecialized generic code allocates there. `NN_ALLOCATION_LOOP` sets this
/// test's loop length for such a run (with `-c release -Xswiftc -enable-testing`).
@Suite("No allocation in forward and pullback")
struct AllocationTests {
    static func address<T>(_ array: inout [T]) -> UnsafeMutableRawPointer? {
        array.withUnsafeMutableBufferPointer { UnsafeMutableRawPointer($0.baseAddress) }
    }

    @Test func buffersStayInPlace() throws {
        let chain = try Chain<Double>(
            .power(3), .dense(2, 50, .tanh), .skipConnection(.dense(50, 50, .gelu)),
            .parallel(.concatenate, [.dense(50, 2)], [.dense(50, 1)]), .dense(3, 2))
        let p = chain.initialParameters(seed: 0)
        var ws = chain.makeWorkspace()
        var y = [0.0, 0.0]
        var dx = [0.0, 0.0]
        var dp = [Double](repeating: 0, count: p.count)
        let before = [
            Self.address(&ws.values), Self.address(&ws.adjoints), Self.address(&y), Self.address(&dx),
            Self.address(&dp),
        ]
        let iterations = ProcessInfo.processInfo.environment["NN_ALLOCATION_LOOP"].flatMap(Int.init) ?? 100
        for _ in 0..<iterations {
            try chain.forward([0.5, -0.3], parameters: p, workspace: &ws, into: &y)
            try chain.pullback([1, -1], parameters: p, workspace: &ws, inputGradient: &dx, parameterGradient: &dp)
        }
        let after = [
            Self.address(&ws.values), Self.address(&ws.adjoints), Self.address(&y), Self.address(&dx),
            Self.address(&dp),
        ]
        #expect(before == after)

        var batchWorkspace = try chain.makeWorkspace(batchCapacity: 4)
        let x = try Matrix<Double>(rows: 2, columns: 4, repeating: 0.25)
        var yb = try Matrix<Double>(rows: 2, columns: 4, repeating: 0)
        var dxb = yb
        let dy = try Matrix<Double>(rows: 2, columns: 4, repeating: 1)
        let batchBefore = [Self.address(&batchWorkspace.values), Self.address(&batchWorkspace.adjoints)]
        for _ in 0..<10 {
            try chain.forward(batch: x, parameters: p, workspace: &batchWorkspace, into: &yb)
            try chain.pullback(
                batch: dy, parameters: p, workspace: &batchWorkspace, inputGradient: &dxb, parameterGradient: &dp)
        }
        #expect(batchBefore == [Self.address(&batchWorkspace.values), Self.address(&batchWorkspace.adjoints)])
    }
}
