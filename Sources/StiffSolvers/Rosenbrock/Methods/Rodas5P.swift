import DiffEqCore

/// Steinebach's Rodas5P: an eight-stage, stiffly accurate, L-stable Rosenbrock method of order
/// 5 with an embedded order-4 solution and a stiffly accurate continuous extension of order 4,
/// constructed to keep its order on the Prothero-Robinson model and on index-1 DAEs; the
/// recommended Rosenbrock method of DifferentialEquations.jl.
///
/// ```swift
/// let sol = try solve(TestProblems.rober(), Rodas5P(), reltol: 1e-8, abstol: 1e-12)
/// ```
///
/// Reference: G. Steinebach, "Construction of Rosenbrock-Wanner method Rodas5P and numerical
/// benchmarks within the Julia Differential Equations package", BIT Numerical Mathematics 63
/// (2023), article 27. The coefficients are those the author contributed to
/// OrdinaryDiffEq.jl (`Rodas5PTableau` in lib/OrdinaryDiffEqRosenbrock); they pass the order
/// conditions up to order 4 checked by ``RosenbrockTableau``.
public struct Rodas5P: RosenbrockAlgorithm, Sendable {
    public var jacobian: JacobianSource
    public var linearSolver: LinearSolver
    public init(jacobian: JacobianSource = .automatic, linearSolver: LinearSolver = .automatic) {
        self.jacobian = jacobian
        self.linearSolver = linearSolver
    }
    public var tableau: RosenbrockTableau { .rodas5P }
}

extension RosenbrockTableau {
    /// Steinebach (2023), Rodas5P, in the transformed form of Hairer & Wanner II (7.25):
    /// `γ = 0.21193756319429014`; stages 6, 7, 8 are evaluated at `t + h`, stage 8 at the
    /// embedded solution, and `u_new = (argument of stage 8) + U_8` (error estimate `U_8`).
    public static let rodas5P: RosenbrockTableau = {
        let row6: [Double] = [
            -7.502846399306121, 2.561846144803919, -11.627539656261098, -0.18268767659942256, 0.030198172008377946,
        ]
        let a: [[Double]] = [
            [],
            [3.0],
            [2.849394379747939, 0.45842242204463923],
            [-6.954028509809101, 2.489845061869568, -10.358996098473584],
            [2.8029986275628964, 0.5072464736228206, -0.3988312541770524, -0.04721187230404641],
            row6,
            row6 + [1],
            row6 + [1, 1],
        ]
        let C: [[Double]] = [
            [],
            [-14.155112264123755],
            [-17.97296035885952, -2.859693295451294],
            [147.12150275711716, -1.41221402718213, 71.68940251302358],
            [165.43517024871676, -0.4592823456491126, 42.90938336958603, -5.961986721573306],
            [24.854864614690072, -3.0009227002832186, 47.4931110020768, 5.5814197821558125, -0.6610691825249471],
            [
                30.91273214028599, -3.1208243349937974, 77.79954646070892, 34.28646028294783, -19.097331116725623,
                -28.087943162872662,
            ],
            [
                37.80277123390563, -3.2571969029072276, 112.26918849496327, 66.9347231244047, -40.06618937091002,
                -54.66780262877968, -9.48861652309627,
            ],
        ]
        let c: [Double] = [
            0, 0.6358126895828704, 0.4095798393397535, 0.9769306725060716, 0.4288403609558664, 1, 1, 1,
        ]
        let d: [Double] = [
            0.21193756319429014, -0.42387512638858027, -0.3384627126235924, 1.8046452872882734, 2.325825639765069,
            0, 0, 0,
        ]
        let dense: [[Double]] = [
            [
                25.948786856663858, -2.5579724845846235, 10.433815404888879, -2.3679251022685204, 0.524948541321073,
                1.1241088310450404, 0.4272876194431874, -0.17202221070155493,
            ],
            [
                -9.91568850695171, -0.9689944594115154, 3.0438037242978453, -24.495224566215796, 20.176138334709044,
                15.98066361424651, -6.789040303419874, -6.710236069923372,
            ],
            [
                11.419903575922262, 2.8879645146136994, 72.92137995996029, 80.12511834622643, -52.072871366152654,
                -59.78993625266729, -0.15582684282751913, 4.883087185713722,
            ],
        ]
        // The error estimate is O(h⁵): Gustafsson's PI gains (HNW II §IV.8) with k = 5, and the
        // step-ratio limits of rodas.f (FAC1 = 5, FAC2 = 1/6), safety 0.9.
        let controller = PIController(beta1: 0.7 / 5, beta2: 0.4 / 5, safety: 0.9, qmin: 0.2, qmax: 6)
        return try! RosenbrockTableau(
            name: "Rodas5P", order: 5, embeddedOrder: 4, gamma: 0.21193756319429014, a: a, C: C, c: c, d: d,
            m: row6 + [1, 1, 1], mhat: row6 + [1, 1, 0], dense: dense, isStifflyAccurate: true, isLStable: true,
            controller: controller)
    }()
}
