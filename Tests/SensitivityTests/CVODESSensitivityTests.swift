import Foundation
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import SundialsBridge

/// `L(θ)` by a tight plain solve, for central differences.
private func lossBySolve<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, u0: [Double], p: [Double], tspan: (Double, Double), saveat: SaveAt, algorithm: A,
    reltol: Double, abstol: Double
) throws -> Double {
    let prob = ODEProblem(model: model, u0: u0, tspan: tspan, p: p)
    let sol = try solve(prob, algorithm, reltol: reltol, abstol: .scalar(abstol), saveat: saveat)
    #expect(sol.retcode == .success)
    let g = SumOfSquaresLoss()
    return zip(sol.t, sol.u).reduce(0.0) { $0 + g($1.1, $1.0) }
}

/// Central differences of `L` with respect to `p` then `u0`, relative step `h`.
private func centralDifferences<M: ODEModel, A: ODEAlgorithm>(
    _ model: M, u0: [Double], p: [Double], tspan: (Double, Double), saveat: SaveAt, algorithm: A,
    reltol: Double, abstol: Double, h: Double = 1e-4
) throws -> (dp: [Double], du0: [Double]) {
    let theta = p + u0
    var grad = [Double](repeating: 0, count: theta.count)
    for j in theta.indices {
        let step = h * max(1, abs(theta[j]))
        var plus = theta, minus = theta
        plus[j] += step
        minus[j] -= step
        func L(_ x: [Double]) throws -> Double {
            try lossBySolve(
                model, u0: Array(x[p.count...]), p: Array(x[..<p.count]), tspan: tspan, saveat: saveat,
                algorithm: algorithm, reltol: reltol, abstol: abstol)
        }
        grad[j] = (try L(plus) - L(minus)) / (2 * step)
    }
    return (Array(grad[..<p.count]), Array(grad[p.count...]))
}

/// Largest component-wise relative difference, each component measured against
/// `max(|reference_i|, floor · max_j |reference_j|)`.
private func relativeError(_ a: [Double], _ reference: [Double], floor: Double = 1e-3) -> Double {
    let scale = reference.map(abs).max() ?? 0
    var worst = 0.0
    for (x, r) in zip(a, reference) {
        worst = max(worst, abs(x - r) / max(abs(r), floor * scale, .leastNormalMagnitude))
    }
    return worst
}

@Suite struct CVODESSensitivityTests {
    static let lvP = [1.5, 1.0, 3.0, 1.0]
    static let lvU0 = [1.0, 1.0]

    @Test func lotkaVolterraMatchesForwardDiffAndCentralDifferences() throws {
        let prob = ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP)
        let options = SolveOptions(reltol: 1e-10, abstol: .scalar(1e-10), saveat: .every(0.1))
        let loss = SumOfSquaresLoss()
        let reference = try centralDifferences(
            LotkaVolterra(), u0: Self.lvU0, p: Self.lvP, tspan: (0, 10), saveat: .every(0.1), algorithm: Tsit5(),
            reltol: 1e-12, abstol: 1e-12)
        let fd = try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        let results = [
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESForward()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint()),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESForward(method: .adams)),
            try gradient(of: loss, prob, algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint(method: .adams)),
        ]
        print("LV central differences: dp = \(reference.dp), du0 = \(reference.du0)")
        print("LV ForwardDiff: dp = \(fd.dp), du0 = \(fd.du0)")
        for r in results {
            let ep = relativeError(r.dp, reference.dp), eu = relativeError(r.du0, reference.du0)
            let fp = relativeError(r.dp, fd.dp), fu = relativeError(r.du0, fd.du0)
            print(
                "LV \(r.method): vs central differences dp \(ep), du0 \(eu); vs ForwardDiff dp \(fp), du0 \(fu); "
                    + "loss rel diff \(abs(r.loss - fd.loss) / fd.loss); \(r.stats)")
            #expect(ep < 1e-6, "\(r.method) dp \(r.dp) vs \(reference.dp)")
            #expect(eu < 1e-6, "\(r.method) du0 \(r.du0) vs \(reference.du0)")
            #expect(fp < 1e-6, "\(r.method) dp \(r.dp) vs \(fd.dp)")
            #expect(fu < 1e-6, "\(r.method) du0 \(r.du0) vs \(fd.du0)")
        }
    }

    @Test func roberSensitivitiesAgreeAcrossMethods() throws {
        let p = [0.04, 3e7, 1e4], u0 = [1.0, 0.0, 0.0]
        let prob = ODEProblem(model: Rober(), u0: u0, tspan: (0, 40), p: p)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-14, saveat: .every(4))
        let loss = SumOfSquaresLoss()
        let fd = try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity())
        let ia = try gradient(of: loss, prob, algorithm: Rodas5P(), options: options, sensealg: InterpolatingAdjoint())
        let cf = try gradient(of: loss, prob, algorithm: CVODE_BDF(), options: options, sensealg: CVODESForward())
        let ca = try gradient(of: loss, prob, algorithm: CVODE_BDF(), options: options, sensealg: CVODESAdjoint())
        func scaled(_ dp: [Double]) -> [Double] { zip(dp, p).map { $0 * $1 } }
        print("ROBER ForwardDiff p·dL/dp = \(scaled(fd.dp)), du0 = \(fd.du0)")
        for r in [ia, cf, ca] {
            print(
                "ROBER \(r.method): p·dp \(scaled(r.dp)) rel diff vs ForwardDiff \(relativeError(scaled(r.dp), scaled(fd.dp))), "
                    + "du0 \(relativeError(r.du0, fd.du0)); \(r.stats)")
        }
    }
}
