import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import Testing

/// `ForwardDiffSensitivity` of a fixed-size generic model with the Rosenbrock methods: each
/// chunk a solve of `FixedVector<N, Dual<C, Double>>` on the fixed-size Rosenbrock stepper.
@Suite struct StaticRosenbrockGradientTests {
    typealias Forms = ForwardModeFormsTests

    /// The array form's gradient to the bit (loss, `dp`, `du0`, counters): Lotka-Volterra's four
    /// parameters (one `Dual<4>` chunk) and parameters with the initial state (one `Dual<8>`
    /// chunk), every Rosenbrock method, at two tolerances.
    @Test(arguments: [1e-4, 1e-8])
    func fixedSizeRosenbrockGradientIsTheArrayFormsToTheBit(_ tol: Double) throws {
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .every(1))
        for inputs in [GradientInputs.parameters, .parametersAndInitialState] {
            for method in ["Rodas5P", "Rodas4", "Rosenbrock23"] {
                let (fixed, array) = try Self.bothForms(method, options, inputs)
                #expect(fixed.loss.bitPattern == array.loss.bitPattern, "\(method)")
                #expect(fixed.dp.map(\.bitPattern) == array.dp.map(\.bitPattern), "\(method) \(inputs)")
                #expect(fixed.du0.map(\.bitPattern) == array.du0.map(\.bitPattern), "\(method) \(inputs)")
                #expect(fixed.du0.count == (inputs == .parameters ? 0 : 2))
                #expect(fixed.stats == array.stats, "\(method)")
            }
        }
    }

    static func bothForms(_ method: String, _ options: SolveOptions, _ inputs: GradientInputs) throws
        -> (SensitivityResult, SensitivityResult)
    {
        let loss = SumOfSquaresLoss()
        switch method {
        case "Rodas4":
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rodas4(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rodas4(), options: options, sensealg: ForwardDiffSensitivity(),
                    wrt: inputs)
            )
        case "Rosenbrock23":
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rosenbrock23(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rosenbrock23(), options: options,
                    sensealg: ForwardDiffSensitivity(), wrt: inputs)
            )
        default:
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rodas5P(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity(),
                    wrt: inputs)
            )
        }
    }

    /// Rodas5P's fixed-size gradient against central differences of the loss from plain solves
    /// by another method family (Vern9 at 1e-13; `h = 1e-5·|x|`, truncation `O(h²)` and solve
    /// error `1e-13/h` both below 1e-7 relative), to 1e-6 relative.
    @Test func fixedSizeRodas5PGradientMatchesCentralDifferences() throws {
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-11, saveat: .every(1))
        let r = try gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: Rodas5P(), options: options)
        func loss(p: [Double], u0: [Double]) throws -> Double {
            let tight = SolveOptions(reltol: 1e-13, abstol: 1e-13, saveat: .every(1))
            let sol = try Vern9().solve(
                ODEProblem(model: Forms.UserLotkaVolterra(), u0: u0, tspan: (0, 10), p: p), options: tight)
            return sol.u.reduce(0) { $0 + $1[0] * $1[0] + $1[1] * $1[1] }
        }
        let p0 = [1.5, 1, 3, 1], u00 = [1.0, 1.0]
        let exact = r.dp + r.du0
        #expect(exact.count == 6)
        for j in 0..<6 {
            var (pp, pm, up, um) = (p0, p0, u00, u00)
            let h = 1e-5 * (j < 4 ? p0[j] : u00[j - 4])
            if j < 4 { pp[j] += h; pm[j] -= h } else { up[j - 4] += h; um[j - 4] -= h }
            let difference = (try loss(p: pp, u0: up) - loss(p: pm, u0: um)) / (2 * h)
            #expect(Swift.abs(exact[j] - difference) <= 1e-6 * Swift.max(1, Swift.abs(difference)), "direction \(j)")
        }
    }

    /// ROBER as a DAE (`M = diag(1, 1, 0)`) in both forms: the gradient with respect to the
    /// three rate constants is the array form's to the bit, the mass matrix carried into the
    /// dual solves.
    @Test func fixedSizeDAEGradientIsTheArrayFormsToTheBit() throws {
        struct StaticRober: StaticODEModel {
            func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
                -> FixedVector<N, S>
            {
                let r1 = p[0] * u[0]
                let r2 = p[1] * u[1] * u[1]
                let r3 = p[2] * u[1] * u[2]
                var du = u
                du[0] = r3 - r1
                du[1] = r1 - r2 - r3
                du[2] = u[0] + u[1] + u[2] - 1
                return du
            }
        }
        struct ArrayRober: ODEModel {
            func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
                let r1 = p[0] * u[0]
                let r2 = p[1] * u[1] * u[1]
                let r3 = p[2] * u[1] * u[2]
                du[0] = r3 - r1
                du[1] = r1 - r2 - r3
                du[2] = u[0] + u[1] + u[2] - 1
            }
        }
        var mass = StaticMatrix<3, StaticVector<3>>()
        mass[0, 0] = 1
        mass[1, 1] = 1
        var fixed = StaticODEProblem(
            model: StaticRober(), u0: [1.0, 0, 0] as StaticVector<3>, tspan: (0, 40), p: [0.04, 3e7, 1e4] as StaticVector<3>)
        fixed.massMatrix = mass
        var array = ODEProblem(model: ArrayRober(), u0: [1.0, 0, 0], tspan: (0, 40), p: [0.04, 3e7, 1e4])
        array.massMatrix = [1, 0, 0, 0, 1, 0, 0, 0, 0]
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-10, saveat: .times([1, 10, 40]))
        let a = try gradient(of: SumOfSquaresLoss(), fixed, algorithm: Rodas5P(), options: options, wrt: .parameters)
        let b = try gradient(
            of: SumOfSquaresLoss(), array, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity(),
            wrt: .parameters)
        #expect(a.loss.bitPattern == b.loss.bitPattern)
        #expect(a.dp.map(\.bitPattern) == b.dp.map(\.bitPattern))
        #expect(a.stats == b.stats)
        #expect(a.dp.allSatisfy { $0.isFinite && $0 != 0 })
    }
}
