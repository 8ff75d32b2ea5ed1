import Foundation
import Testing
import DiffEqCore
import ProblemLibrary
import Sensitivity
import StiffSolvers

// Helpers shared by the sensitivity test files.

/// The gradients of the sum of squares of the 2-D Brusselator on a 3 x 3 grid (18 states, 36
/// parameters) over `[0, 0.5]`, observed every 0.1, solved by Rodas5P at `reltol`/`abstol`, by
/// each of `sensealgs` in turn: the stiff problem on which the structured and compressed paths
/// are checked against each other.
func brusselator3x3Gradients(
    reltol: Double, abstol: Double, _ sensealgs: [any SensitivityAlgorithm]
) throws -> [SensitivityResult] {
    let model = Brusselator2D(gridSize: 3)
    let problem = ODEProblem(model: model, u0: model.initialState, tspan: (0, 0.5), p: model.nominalParameters)
    let options = SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: .every(0.1))
    return try sensealgs.map { sensealg throws(SensitivityError) in
        try gradient(of: SumOfSquaresLoss(), problem, algorithm: Rodas5P(), options: options, sensealg: sensealg)
    }
}

/// `L(θ)` by a tight plain solve, for central differences.
func lossBySolve<M: ODEModel, A: ODEAlgorithm>(
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
func centralDifferences<M: ODEModel, A: ODEAlgorithm>(
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
/// `max(|reference_i|, floor · max_j |reference_j|)` (so that a component that is nearly zero
/// is compared on the scale of the gradient).
func relativeError(_ a: [Double], _ reference: [Double], floor: Double = 1e-3) -> Double {
    let scale = reference.map(abs).max() ?? 0
    var worst = 0.0
    for (x, r) in zip(a, reference) {
        worst = max(worst, abs(x - r) / max(abs(r), floor * scale, .leastNormalMagnitude))
    }
    return worst
}

/// `u' = a u`: `u(t) = u0 e^(a t)`, so every gradient is known in closed form.
struct Growth: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { du[0] = p[0] * u[0] }
}

