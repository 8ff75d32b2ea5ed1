// NeuralSDE: networks as drift and diagonal diffusion, gradients by the SDE adjoint (with the
// networks' own pullbacks) and by pathwise forward mode, training with Adam on a fixed path.
import DiffEqCore
import Foundation
import NeuralDE
import NeuralNetworks
import Sensitivity
import StochasticDE
import StochasticSensitivity
import Testing

/// `Σ_k (u₁(t_k) − 1)²`: the stochastic Lotka-Volterra loss, on a network's state.
struct DistanceFromOne: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        let d = u[0] - S(1.0)
        return d * d
    }
}

/// The same model without its own products, so that the adjoint takes them from dual numbers.
struct DualOnly: SDEModel, Sendable {
    let model: NetworkSDE
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { model.drift(&du, u, p, t) }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) { model.diffusion(&g, u, p, t) }
}

@Suite struct NeuralSDETests {
    static func chains() throws -> (Chain<Double>, Chain<Double>) {
        (try Chain<Double>(.dense(2, 4, .tanh), .dense(4, 2)), try Chain<Double>(.dense(2, 2, .sigmoid)))
    }
    static let saveat = SaveAt.times([0.25, 0.5, 0.75, 1])

    /// The adjoint with the networks' hand-written products equals the adjoint with dual-number
    /// products of the same model (same backward scheme, different differentiation) to 1e-12.
    @Test func networkProductsMatchDuals() throws {
        let (f, g) = try Self.chains()
        let sde = try NeuralSDE(
            drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: 0x1p-7, sensealg: SDEBacksolveAdjoint())
        let p = sde.initialParameters(seed: 1)
        let r = try sde.gradient(of: DistanceFromOne(), u0: [1, 0.5], parameters: p, seed: 3)
        let prob = SDEProblem(model: DualOnly(model: sde.model), u0: [1, 0.5], tspan: (0, 1), p: p)
        let d = try gradient(
            of: DistanceFromOne(), prob, algorithm: EulerHeun(), noise: try sde.brownianTree(seed: 3), options: sde.options,
            sensealg: SDEBacksolveAdjoint())
        #expect(r.loss == d.loss)
        #expect(relativeDifference(r.dp + r.du0, d.dp + d.du0) <= 1e-12)
        #expect(r.dp.count == p.count && r.du0.count == 2)
    }

    /// Pathwise forward mode through the NeuralSDE agrees with central differences of its solve
    /// on the same path to 1e-6 relative; the adjoint agrees with both to its discretisation
    /// error, which falls with dt (measured below).
    @Test func gradientMatchesCentralDifferences() throws {
        let (f, g) = try Self.chains()
        var differences = [Double]()
        for dt in [0x1p-6, 0x1p-8] {
            let forward = try NeuralSDE(
                drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: dt,
                sensealg: SDEForwardDiffSensitivity())
            let adjoint = try NeuralSDE(
                drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: dt, sensealg: SDEBacksolveAdjoint())
            let p = forward.initialParameters(seed: 1)
            let u0 = [1.0, 0.5]
            let r = try forward.gradient(of: DistanceFromOne(), u0: u0, parameters: p, seed: 3)
            func loss(_ q: [Double]) throws -> Double {
                try forward(u0, parameters: q, seed: 3).reduce(0) { $0 + DistanceFromOne()($1, 0) }
            }
            let fd = try centralDifferences(p, h: 1e-6, floor: 0.1, loss)
            let err = relativeDifference(r.dp, fd)
            #expect(err <= 1e-6, "dt \(dt): forward mode vs central differences \(err)")
            let a = try adjoint.gradient(of: DistanceFromOne(), u0: u0, parameters: p, seed: 3)
            differences.append(relativeDifference(a.dp, r.dp))
        }
        // Measured: 2.1e-5 at dt = 2⁻⁶, 6.7e-6 at 2⁻⁸ (a factor 3.1 for 4x the steps).
        #expect(differences[1] < differences[0] / 2, "adjoint vs forward mode: \(differences)")
        #expect(differences[1] < 2e-5, "adjoint vs forward mode: \(differences)")
    }

    /// Adam(0.05) for 30 iterations on one fixed path, gradients by the adjoint, reduces the loss
    /// (measured: 7.33 → 0.242), and two runs give the same loss sequence bit for bit.
    @Test func trainingOnAFixedPathIsDeterministic() throws {
        let (f, g) = try Self.chains()
        let sde = try NeuralSDE(
            drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: 0x1p-6, sensealg: SDEBacksolveAdjoint())
        func run() throws -> [Double] {
            var p = sde.initialParameters(seed: 2)
            var adam = try Adam<Double>(0.05)
            let result = try train(&p, optimizer: &adam, iterations: 30) { q, gradient in
                let r = try sde.gradient(of: DistanceFromOne(), u0: [0.2, 0.5], parameters: q, seed: 4)
                gradient = r.dp
                return r.loss
            }
            #expect(result.status == .completed)
            return result.lossHistory
        }
        let first = try run(), second = try run()
        #expect(first == second)
        #expect(first.last! < first[0] / 4, "losses \(first)")
    }

    /// The ensemble-mean loss gradient over K seeded paths is the mean of the paths' gradients,
    /// and matches central differences of the mean loss (pathwise forward mode, 1e-6).
    @Test func meanGradientOverPaths() throws {
        let (f, g) = try Self.chains()
        let sde = try NeuralSDE(
            drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: 0x1p-6,
            sensealg: SDEForwardDiffSensitivity())
        let p = sde.initialParameters(seed: 1)
        let seeds: [UInt64] = [1, 2, 3, 4]
        let r = try sde.meanGradient(of: DistanceFromOne(), u0: [1, 0.5], parameters: p, seeds: seeds)
        func meanLoss(_ q: [Double]) throws -> Double {
            var s = 0.0
            for seed in seeds { s += try sde([1, 0.5], parameters: q, seed: seed).reduce(0) { $0 + DistanceFromOne()($1, 0) } }
            return s / Double(seeds.count)
        }
        #expect(abs(r.loss - (try meanLoss(p))) <= 1e-13 * r.loss)
        let fd = try centralDifferences(p, h: 1e-6, floor: 0.1, meanLoss)
        let err = relativeDifference(r.dp, fd)
        #expect(err <= 1e-6, "mean gradient vs central differences: \(err)")
    }

    /// The discrete adjoint with the networks' own products (no duals) is the derivative of the
    /// solve: it equals pathwise forward mode to rounding, for a Stratonovich method (EulerHeun)
    /// and for Itô ones (EM, SOSRI), which the backsolve adjoint refuses with a model's own
    /// products.
    @Test(arguments: ["EulerHeun", "EM", "SOSRI"])
    func discreteAdjointWithNetworkProductsIsTheSolvesDerivative(method: String) throws {
        let (f, g) = try Self.chains()
        func check<A: SDEAlgorithm>(_ alg: A) throws {
            let adjoint = try NeuralSDE(
                drift: f, diffusion: g, tspan: (0, 1), alg, saveat: Self.saveat, dt: 0x1p-7, sensealg: SDEDiscreteAdjoint())
            let forward = try NeuralSDE(
                drift: f, diffusion: g, tspan: (0, 1), alg, saveat: Self.saveat, dt: 0x1p-7, sensealg: SDEForwardDiffSensitivity())
            let p = adjoint.initialParameters(seed: 1)
            let a = try adjoint.gradient(of: DistanceFromOne(), u0: [1, 0.5], parameters: p, seed: 3)
            let r = try forward.gradient(of: DistanceFromOne(), u0: [1, 0.5], parameters: p, seed: 3)
            #expect(abs(a.loss - r.loss) <= 1e-14 * r.loss)
            let err = relativeDifference(a.dp + a.du0, r.dp + r.du0)
            #expect(err <= 1e-12, "\(method): discrete adjoint vs forward mode \(err)")
            #expect(a.stats.vjps == ["EM": 2, "EulerHeun": 4, "SOSRI": 8][method]! * 128, "one product per function evaluation of a step")
        }
        switch method {
        case "EM": try check(EM())
        case "SOSRI": try check(SOSRI())
        default: try check(EulerHeun())
        }
    }

    /// Bad input: wrong sizes, and an Itô method with the networks' products in the backsolve
    /// adjoint, are typed errors.
    @Test func badInput() throws {
        let (f, g) = try Self.chains()
        let sde = try NeuralSDE(drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), saveat: Self.saveat, dt: 0x1p-6)
        let p = sde.initialParameters(seed: 1)
        #expect(throws: NeuralDEError.self) { try sde([1], parameters: p, seed: 0) }
        #expect(throws: NeuralDEError.self) { try sde([1, 2], parameters: [1], seed: 0) }
        #expect(throws: NeuralDEError.self) { try NeuralSDE(drift: f, diffusion: g, tspan: (0, 1), EulerHeun(), dt: 0) }
        let ito = try NeuralSDE(
            drift: f, diffusion: g, tspan: (0, 1), EM(), saveat: Self.saveat, dt: 0x1p-6, sensealg: SDEBacksolveAdjoint())
        #expect(throws: NeuralDEError.self) { try ito.gradient(of: DistanceFromOne(), u0: [1, 0.5], parameters: p, seed: 0) }
        let wide = try Chain<Double>(.dense(3, 3))
        #expect(throws: NeuralDEError.self) { try NeuralSDE(drift: f, diffusion: wide, tspan: (0, 1), EulerHeun(), dt: 0.1) }
    }
}

func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for i in a.indices {
        num = max(num, abs(a[i] - b[i]))
        den = max(den, abs(b[i]))
    }
    return num / den
}
