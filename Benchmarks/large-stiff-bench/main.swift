// Large stiff systems, side by side in one run: work-precision on the 2-D Brusselator
// (ProblemLibrary.Brusselator2D, periodic N x N grid, n = 2N² states, 12N² Jacobian nonzeros)
// at N = 32, 64, 128 (2,048 to 32,768 states), issue #20.
//
// Methods: CVODE_BDF with KLU (the model's analytic sparse Jacobian, and coloured differences)
// and with SPGMR (left preconditioning by the cell-wise 2 x 2 blocks of I − γJ, J v by CVODE's
// difference quotients); native Rodas5P, KenCarp4 and TRBDF2 with their dense LU where it fits
// (N = 32: a 2,048² matrix, 32 MB; N = 64 needs 512 MB per n x n matrix and 64x the LU work of
// N = 32, N = 128 8.6 GB per matrix: beyond this machine's 23 GB once the Jacobian and the
// iteration matrix are both held, so those rows say so instead of running); native Rodas5P,
// KenCarp4 and TRBDF2 with sparse LU (KLU, `linearSolver: .sparseLU`) and with GMRES (the same
// cell-block preconditioner as the SPGMR run; one KenCarp4 run Jacobian-free), J by coloured
// forward-mode AD (`nativeSparseMethods`).
//
// Error: at t = 1, max_i |y_i − ref_i| / max_i |ref_i|, against CVODE_BDF + KLU at reltol =
// abstol = 100x tighter than the tightest compared run, never below 1e-10 (1e-10 for the full
// reltol sweep, 1e-8 for --quick); its distance to Rodas5P + KLU at the same tolerance (another
// method, another linear solver) is printed: errors within ~10x of it are at the reference's
// own accuracy, not the method's. (Runs before 2026-12-07 09:00 used 1e-10 and a CVODE_BDF
// SPGMR check at every N: at N = 128 that check alone did not finish.)
// Time: median wall time and CPU time of the solving thread per solve (after a warm-up solve;
// a first solve of 10 s or more is timed itself; OpenBLAS threads of the dense LU are not in
// the CPU figure). Memory: each (method, N, reltol)
// runs in a child process of this benchmark; its peak resident set (VmHWM) is reported, next
// to that of a child that builds the problem and stops without solving ("baseline"): the
// difference is what the solve needed.
//
// Timings on a loaded 2-core machine shared with other builds are noise; the memory figures and
// the work counters (f evaluations, Jacobians, factorizations) are not.
//
// Run: swift run -c release large-stiff-bench [--quick] [--sizes 32,64] [--reltols 1e-4,1e-6] [--methods KLU,GMRES]
//      [--output DIR]
//
// Measured (--quick, N = 32 only, 2026-12-07, load average ~19 on 2 cores: times are noise):
// peak RSS 23 MB baseline, 34 MB CVODE_BDF KLU, 25 MB SPGMR, 128 MB each dense native method.
// CVODE_BDF KLU at reltol 1e-4 / 1e-6: error 6.9e-5 / 4.5e-6, 75 / 130 steps, 21 / 25
// factorizations (0.48 / 0.60 CPU s); coloured differences: same steps, 18 f per Jacobian.
// SPGMR with the cell-block preconditioner: 893 / 2032 steps, 4507 / 9563 Krylov iterations:
// the preconditioner leaves out the diffusion that makes the problem stiff, so the Krylov
// solves stall and CVODE cuts its steps (a better preconditioner is the user's part).
// Rodas5P dense: error 1.2e-6 / 4.2e-8 in 27 / 52 steps, 32 / 57 LU of 2048², 6.3 / 9.0 CPU s
// of the main thread (OpenBLAS's threads not counted).
// N = 64 (n = 8192): peak RSS 23 MB baseline, 58 MB KLU, 27 MB SPGMR; KLU 81 / 148 steps,
// 24 / 26 factorizations, 7.5 / 9.5 CPU s (15x N = 32's for 4x the states: KLU's fill-in on a
// periodic 2-D grid); SPGMR 3206 / 2560 steps, 13.6 / 12.3 CPU s; dense forms not run
// (0.54 GB per matrix, 183 Gflop per LU). N = 128: not finished in that run.
//
// Native KLU and GMRES (issue #20 items 1-2), run `--quick --sizes 32,64 --methods "CVODE_BDF
// KLU,SPGMR,Rodas5P KLU,KenCarp4 KLU,TRBDF2 KLU,GMRES"` on 2026-12-07, load ~17 on 2 cores
// (wall and CPU seconds are noise; errors, counters and peak RSS are not). N = 32, reltol 1e-4 /
// 1e-6: error, CPU s, peak MB:
//   CVODE_BDF KLU       6.9e-5 / 4.5e-6   0.51 / 0.62   34.4      SPGMR 2.4e-4 / 1.5e-5, 0.75 / 1.68 s, 25.5 MB
//   Rodas5P KLU         1.2e-6 / 4.2e-8   0.29 / 0.51   29.4      Rodas5P GMRES  3.5e-5 / 2.6e-7, 0.37 / 0.51 s, 27.1 MB
//   KenCarp4 KLU        5.0e-6 / 2.8e-7   0.21 / 0.39   29.4      KenCarp4 GMRES 1.8e-6 / 3.1e-7, 0.34 / 0.45 s, 27.1 MB
//   TRBDF2 KLU          1.3e-4 / 1.1e-5   0.35 / 0.76   29.2      TRBDF2 GMRES   1.4e-4 / 1.2e-5, 0.16 / 0.34 s, 27.1 MB
//   KenCarp4 GMRES with Jacobian-free J v: 5.4e-5 / 5.2e-6 at 4.1 / 8.8 s (one f per Krylov
//   iteration, 6,000-16,000 of them: the stored coloured J is far cheaper here).
// At CVODE_BDF KLU's error 4.5e-6 (reltol 1e-6, 0.62 s) Rodas5P KLU at reltol 1e-4 is more
// accurate (1.2e-6) in 0.29 s and KenCarp4 KLU (5.0e-6) in 0.21 s: 2.1x and 3.0x in CPU time,
// noisy figures. Memory is the matrices' nonzeros, not n²: 29 MB native KLU (6 MB above the
// 23 MB baseline) against 128 MB for the dense forms.
// Instructions (callgrind, one solve per child: `SOLVE_ONCE=1 valgrind --tool=callgrind
// large-stiff-bench --child METHOD 32 RELTOL reference-N32.json`, the binary's debug info
// stripped for valgrind): problem setup alone 0.044e9; CVODE_BDF KLU at 1e-6 (error 4.5e-6)
// 5.30e9; Rodas5P KLU at 1e-4 (1.2e-6) 2.78e9, 1.9x fewer; KenCarp4 KLU at 1e-4 (5.0e-6) 2.01e9,
// 2.6x fewer.
// N = 64, same run (error, CPU s, peak MB at 1e-4 / 1e-6): CVODE_BDF KLU 1.1e-4 / 2.4e-6,
// 7.6 / 9.7 s, 57.9 MB; SPGMR 1.7e-4 at 12.9 s, 27.5 MB; Rodas5P KLU 8.9e-7 / 4.5e-8, 3.7 /
// 6.3 s, 46 MB; KenCarp4 KLU 5.8e-6 / 2.6e-7, 2.9 / 5.2 s, 45.6 MB; TRBDF2 KLU 1.5e-4 / 1.2e-5,
// 4.2 / 9.1 s. At CVODE KLU's 2.4e-6 (9.7 s): Rodas5P KLU 8.9e-7 in 3.7 s (2.6x), KenCarp4 KLU
// 5.8e-6 in 2.9 s. GMRES with the cell-block preconditioner at N = 64 (1e-4 / 1e-6): Rodas5P
// 1.5e-4 / 6.1e-7, 9.1 / 8.6 s (its 0.005-unit Krylov rule costs ~270 iterations per step);
// KenCarp4 4.2e-5 / 1.8e-7, 3.6 / 6.1 s; TRBDF2 3.3e-5 / 1.1e-5, 1.5 / 3.1 s; 33 MB each
// (10 MB above baseline, against 46 MB native and 58 MB CVODE with KLU's fill-in). At CVODE_BDF
// KLU's 1.1e-4 (7.6 s), TRBDF2 GMRES reaches 3.3e-5 in 1.5 s (5x, noisy). N = 128 not run.
//
// Re-run on branch sparse (shared BlockDiagonalLU, 100x reference rule), 2026-12-07 09:06-09:21,
// `nice large-stiff-bench --quick --sizes 32 --methods "CVODE_BDF KLU,CVODE_BDF SPGMR,Rodas5P
// KLU,KenCarp4 KLU,TRBDF2 KLU,Rodas5P GMRES,KenCarp4 GMRES,TRBDF2 GMRES"`, load average 18-27 on
// 2 cores (wall 20-100x the CPU seconds): every counter (nf, njacs, nLU, nlin, steps) and error
// as in the run above (the bench's GMRES rows use its own CellBlocks, untouched), except Rodas5P
// KLU at 1e-6, 6.1e-8 against the 1e-8 reference (reference vs Rodas5P KLU at 1e-8: 2.3e-8 at
// N = 32, 6.0e-8 at N = 64). CPU s at 1e-4 / 1e-6: CVODE_BDF KLU 0.53 / 0.64, SPGMR 0.79 / 1.73,
// Rodas5P KLU 0.31 / 0.54, KenCarp4 KLU 0.21 / 0.39, TRBDF2 KLU 0.37 / 0.79, Rodas5P GMRES 0.36 /
// 0.52, KenCarp4 GMRES 0.32 / 0.46, TRBDF2 GMRES 0.17 / 0.32; peak RSS 23.5 MB baseline, 30 MB
// CVODE KLU, 29 MB native KLU, 27 MB GMRES.
// Best native against CVODE_BDF's best (KLU at every point) at CVODE's errors, CPU s read off
// the work-precision fronts as the closing note does: N = 32 (this run) 2.65x at 6.9e-5 (TRBDF2
// GMRES), 2.91x at 4.5e-6 (KenCarp4 KLU); N = 64 (the run above) 5.1x at 1.1e-4 (TRBDF2 GMRES),
// 2.8x at 2.4e-6 (KenCarp4 KLU). Goal >= 2x: met at N = 32 and 64, noisy CPU figures.
// N = 128 (n = 32,768), 2026-12-07 09:22-09:50, `large-stiff-bench --sizes 128 --reltols 1e-4
// --methods "CVODE_BDF KLU,KenCarp4 KLU,TRBDF2 GMRES,Rodas5P KLU,KenCarp4 GMRES"` at nice 0 (at
// nice 10 it got ~1.5 % of a core under a load of ~20 and would not have finished by the session's
// end), load average 5.7-19.6 on 2 cores. Reference CVODE_BDF KLU at 1e-6 (154 steps), 4.7e-6
// from Rodas5P KLU at 1e-6: errors below ~5e-6 are the reference's. Error, CPU s, peak MB
// (baseline 24.9), steps:
//   CVODE_BDF KLU    1.0e-4   98.8   191.5   81 (24 factorizations)
//   Rodas5P KLU      3.6e-6   43.2   122.2   31
//   KenCarp4 KLU     4.2e-6   21.4   120.8   21
//   KenCarp4 GMRES   2.5e-4   41.9    57.4  229 (322 preconditioner setups, 40,585 Krylov iterations)
//   TRBDF2 GMRES     2.5e-4   28.9    56.8  266 (302 setups, 26,694 iterations)
// and, as children against the same reference file right after (`--child METHOD 128 1e-4
// reference-N128.json`, two at once, load ~5): TRBDF2 KLU 1.6e-4, 48.4 s, 120.1 MB, 63 steps;
// CVODE_BDF SPGMR 2.1e-4, 173.3 s, 34.7 MB, 9,324 steps (474 preconditioner setups, 62,978
// Krylov iterations): CVODE's best at N = 128 stays KLU.
// At CVODE_BDF KLU's 1.0e-4 (98.8 s) KenCarp4 KLU is more accurate (4.2e-6, at the reference's
// limit) in 21.4 s: 4.6x (Rodas5P KLU 2.3x); the goal >= 2x holds at N = 32, 64 and 128. The
// cell-block GMRES runs miss the tolerance at N = 128 (2.5e-4) and take 10x the steps: the
// preconditioner leaves out the diffusion, whose stiffness grows as N². Not run at N = 128 for
// lack of time on the shared machine: reltol 1e-6 (needs a 1e-8 reference), Rodas5P GMRES.
// Memory grows with the nonzeros: 97 MB above baseline for native KLU, 167 MB for CVODE's KLU,
// 32 MB for GMRES (n² dense would be 8.6 GB per matrix).
import DiffEq
import Foundation
import NotebookSupport
import ProblemLibrary
import SundialsBridge

setvbuf(stdout, nil, _IOLBF, 0)
let arguments = CommandLine.arguments
let quick = arguments.contains("--quick")
func argument(_ flag: String) -> String? {
    guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}
let endTime = 1.0

// MARK: Methods

/// One column of the comparison: a name, whether it fits at grid size N (nil, or why not), and
/// its solve.
struct Method {
    let name: String
    let fits: (Int) -> String?
    let solve: (Brusselator2D, SolveOptions) throws -> ODESolution<Double>
}

func problem(_ model: Brusselator2D) -> ODEProblem<GenericRHS<Brusselator2D, Double>> {
    ODEProblem(model: model, u0: model.initialState, tspan: (0, endTime), p: model.nominalParameters)
}

func pattern(_ model: Brusselator2D) -> CVODESparsityPattern {
    let (starts, rows) = model.jacobianPattern
    return CVODESparsityPattern(count: model.stateCount, columnStarts: starts, rowIndices: rows)
}

func analyticSparseJacobian(_ model: Brusselator2D) -> CVODESparseJacobian {
    let (starts, rows) = model.jacobianPattern
    return CVODESparseJacobian(pattern: pattern(model)) { values, u, p, _ in
        model.jacobianValues(values, columnStarts: starts, rowIndices: rows, u, p)
    }
}

/// The preconditioner a user would write for this layout (u of every cell, then v): the 2 x 2
/// block of α I + β J of each cell (CVODE: I − γJ), reaction plus the diffusion stencil's
/// diagonal, inverted in closed form. It drops the coupling between cells (the diffusion's
/// off-diagonal entries). Shared by the CVODE and the native GMRES runs.
struct CellBlocks {
    let model: Brusselator2D
    var inverse: [Double]  // per cell: the 2 x 2 inverse, row-major

    init(_ model: Brusselator2D) {
        self.model = model
        inverse = [Double](repeating: 0, count: 4 * model.gridSize * model.gridSize)
    }

    /// Inverts every cell's block of α I + β J at u; the first singular cell, or nil.
    mutating func setup(u: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double) -> Int? {
        let N = model.gridSize, cells = N * N
        let inv = Double((N - 1) * (N - 1))
        for c in 0..<cells {
            let x = u[c], y = u[cells + c]
            let a = p[4 * c]
            let j11 = 2 * x * y - (a + 1) - 4 * p[4 * c + 2] * inv, j12 = x * x
            let j21 = a - 2 * x * y, j22 = -x * x - 4 * p[4 * c + 3] * inv
            let m11 = alpha + beta * j11, m12 = beta * j12, m21 = beta * j21, m22 = alpha + beta * j22
            let det = m11 * m22 - m12 * m21
            guard det != 0, det.isFinite else { return c }
            inverse[4 * c] = m22 / det
            inverse[4 * c + 1] = -m12 / det
            inverse[4 * c + 2] = -m21 / det
            inverse[4 * c + 3] = m11 / det
        }
        return nil
    }

    func solve(_ r: UnsafePointer<Double>, into z: UnsafeMutablePointer<Double>) {
        let cells = model.gridSize * model.gridSize
        for c in 0..<cells {
            let a = r[c], b = r[cells + c]
            z[c] = inverse[4 * c] * a + inverse[4 * c + 1] * b
            z[cells + c] = inverse[4 * c + 2] * a + inverse[4 * c + 3] * b
        }
    }
}

final class CellBlockPreconditioner: CVODEPreconditioner {
    var blocks: CellBlocks
    init(_ model: Brusselator2D) { blocks = CellBlocks(model) }

    func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], mayReuseJacobian: Bool,
        gamma: Double
    ) throws -> Bool {
        if let c = blocks.setup(u: u, p: p, alpha: 1, beta: -gamma) {
            throw CVODEPreconditionerFailure.recoverable("singular cell block \(c)")
        }
        return true
    }

    func solve(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], r: UnsafeBufferPointer<Double>,
        z: UnsafeMutableBufferPointer<Double>, gamma: Double, delta: Double, left: Bool
    ) throws {
        blocks.solve(r.baseAddress!, into: z.baseAddress!)
    }
}

/// The same cell blocks as the native GMRES's right preconditioner (a value: each solve its own).
struct NativeCellBlockPreconditioner: GMRESPreconditioner {
    var blocks: CellBlocks
    var scratch: [Double]
    init(_ model: Brusselator2D) {
        blocks = CellBlocks(model)
        scratch = [Double](repeating: 0, count: model.stateCount)
    }

    mutating func setup(
        t: Double, u: UnsafeBufferPointer<Double>, fu: UnsafeBufferPointer<Double>, p: [Double], alpha: Double, beta: Double
    ) throws(GMRESPreconditionerFailure) {
        if let c = blocks.setup(u: u, p: p, alpha: alpha, beta: beta) { throw GMRESPreconditionerFailure("singular cell block \(c)") }
    }

    func solve(_ r: UnsafeMutableBufferPointer<Double>) {
        // r is read whole before z is written: z = P⁻¹ r cell by cell touches only (c, cells + c).
        blocks.solve(UnsafePointer(r.baseAddress!), into: r.baseAddress!)
    }
}

/// Brusselator2D with its sparsity pattern declared, so that the native stiff methods evaluate
/// J by coloured forward-mode AD into the compressed layout of their sparse solvers.
struct SparseBrusselator2D: ODEModel, Sendable {
    let base: Brusselator2D
    let pattern: SparsityPattern
    init(_ base: Brusselator2D) {
        self.base = base
        let (starts, rows) = base.jacobianPattern
        var entries: [(row: Int, column: Int)] = []
        entries.reserveCapacity(rows.count)
        for j in 0..<base.stateCount { for k in starts[j]..<starts[j + 1] { entries.append((rows[k], j)) } }
        pattern = try! SparsityPattern(rows: base.stateCount, columns: base.stateCount, entries: entries)
    }
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { base.rhs(&du, u, p, t) }
    var isAutonomous: Bool { true }
    var jacobianStructure: JacobianStructure { .sparse(pattern) }
}

func sparseProblem(_ model: Brusselator2D) -> ODEProblem<GenericRHS<SparseBrusselator2D, Double>> {
    ODEProblem(model: SparseBrusselator2D(model), u0: model.initialState, tspan: (0, endTime), p: model.nominalParameters)
}

/// Why the dense n x n forms do not run at grid size N (nil where they do).
func denseFits(_ N: Int) -> String? {
    let n = 2 * N * N
    let gigabytes = Double(n * n * 8) / 1e9
    return N <= 32 ? nil : "dense n x n: \(sig(gigabytes, 3)) GB per matrix, LU \(sig(pow(Double(n), 3) / 3e9, 3)) Gflop"
}

let cvodeMethods: [Method] = [
    Method(name: "CVODE_BDF KLU", fits: { _ in nil }) { model, options in
        try CVODE_BDF(linearSolver: .klu(analyticSparseJacobian(model))).solve(problem(model), options: options)
    },
    Method(name: "CVODE_BDF KLU (coloured FD)", fits: { _ in nil }) { model, options in
        try CVODE_BDF(linearSolver: .klu(CVODESparseJacobian(pattern: pattern(model)))).solve(problem(model), options: options)
    },
    Method(name: "CVODE_BDF SPGMR", fits: { _ in nil }) { model, options in
        let krylov = CVODEKrylov(maxKrylovDimension: 20, preconditioner: { CellBlockPreconditioner(model) })
        return try CVODE_BDF(linearSolver: .gmres(krylov)).solve(problem(model), options: options)
    },
]

let nativeDenseMethods: [Method] = [
    Method(name: "Rodas5P dense", fits: denseFits) { model, options in try Rodas5P().solve(problem(model), options: options) },
    Method(name: "KenCarp4 dense", fits: denseFits) { model, options in try KenCarp4().solve(problem(model), options: options) },
    Method(name: "TRBDF2 dense", fits: denseFits) { model, options in try TRBDF2().solve(problem(model), options: options) },
]

/// The native stiff methods with sparse (KLU) and Krylov (GMRES) linear solvers, issue #20
/// items 1-2: J by coloured forward-mode AD (compressed, never n x n); GMRES with the same
/// cell-block right preconditioner as CVODE's SPGMR run, J v by the stored sparse J.
func nativeSparseMethods() -> [Method] {
    func gmres(_ model: Brusselator2D) -> LinearSolver { .gmres(preconditioner: NativeCellBlockPreconditioner(model)) }
    return [
        Method(name: "Rodas5P KLU", fits: { _ in nil }) { model, options in
            try Rodas5P(linearSolver: .sparseLU).solve(sparseProblem(model), options: options)
        },
        Method(name: "KenCarp4 KLU", fits: { _ in nil }) { model, options in
            try KenCarp4(linearSolver: .sparseLU).solve(sparseProblem(model), options: options)
        },
        Method(name: "TRBDF2 KLU", fits: { _ in nil }) { model, options in
            try TRBDF2(linearSolver: .sparseLU).solve(sparseProblem(model), options: options)
        },
        Method(name: "Rodas5P GMRES", fits: { _ in nil }) { model, options in
            try Rodas5P(linearSolver: gmres(model)).solve(sparseProblem(model), options: options)
        },
        Method(name: "KenCarp4 GMRES", fits: { _ in nil }) { model, options in
            try KenCarp4(linearSolver: gmres(model)).solve(sparseProblem(model), options: options)
        },
        Method(name: "TRBDF2 GMRES", fits: { _ in nil }) { model, options in
            try TRBDF2(linearSolver: gmres(model)).solve(sparseProblem(model), options: options)
        },
        Method(name: "Rosenbrock23 KLU", fits: { _ in nil }) { model, options in
            try Rosenbrock23(linearSolver: .sparseLU).solve(sparseProblem(model), options: options)
        },
        Method(name: "Rosenbrock23 GMRES", fits: { _ in nil }) { model, options in
            try Rosenbrock23(linearSolver: gmres(model)).solve(sparseProblem(model), options: options)
        },
        Method(name: "KenCarp4 GMRES (J-free)", fits: { _ in nil }) { model, options in
            try KenCarp4(linearSolver: .gmres(preconditioner: NativeCellBlockPreconditioner(model), jacobianFree: true))
                .solve(sparseProblem(model), options: options)
        },
    ]
}

let allMethods = cvodeMethods + nativeDenseMethods + nativeSparseMethods()

// MARK: Child process: one measurement

/// Peak resident set of this process, in MB: `VmHWM` of /proc/self/status, the high-water mark of
/// this process's own address space. (`getrusage`'s ru_maxrss would not do: a child started by
/// vfork + exec inherits its parent's high-water mark in it, measured here as 129 MB in every child.)
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kB = line.split(separator: " ").compactMap({ Double($0) }).first
    else { return .nan }
    return kB / 1024
}

struct Measurement: Codable {
    let method: String
    let N: Int
    let reltol: Double
    let error: Double
    let seconds: Double
    /// CPU seconds of the solving thread (less disturbed by other processes than wall time).
    let cpuSeconds: Double
    let peakRSSMB: Double
    let nf: Int
    let njacs: Int
    let nlu: Int
    let nlinsolves: Int
    let steps: Int
    let retcode: String
}

func endState(_ sol: ODESolution<Double>) -> [Double] { sol.u.last ?? [] }

func relativeMaxError(_ u: [Double], _ ref: [Double]) -> Double {
    guard u.count == ref.count else { return .nan }
    let scale = ref.map { abs($0) }.max() ?? 1
    return zip(u, ref).map { abs($0 - $1) }.max().map { $0 / scale } ?? .nan
}

/// `--child METHOD N RELTOL REFERENCE_FILE`: solves once (for the error and counters, and as the
/// warm-up), times `samples` more, prints one JSON line. METHOD "baseline" only builds the problem.
func runChild() throws {
    guard let i = arguments.firstIndex(of: "--child"), i + 4 < arguments.count, let N = Int(arguments[i + 2]),
        let reltol = Double(arguments[i + 3])
    else { throw ScriptError("usage: --child METHOD N RELTOL REFERENCE_FILE") }
    let name = arguments[i + 1]
    let model = Brusselator2D(gridSize: N)
    let reference = try JSONDecoder().decode([Double].self, from: Data(contentsOf: URL(fileURLWithPath: arguments[i + 4])))
    var m: Measurement
    if name == "baseline" {
        blackHole(problem(model))
        m = Measurement(
            method: name, N: N, reltol: reltol, error: .nan, seconds: 0, cpuSeconds: 0, peakRSSMB: peakRSSMegabytes(), nf: 0, njacs: 0, nlu: 0,
            nlinsolves: 0, steps: 0, retcode: "")
    } else {
        guard let method = allMethods.first(where: { $0.name == name }) else { throw ScriptError("no method \(name)") }
        let options = SolveOptions(reltol: reltol, abstol: .scalar(reltol), saveEverystep: false)
        let t0 = DispatchTime.now().uptimeNanoseconds, c0 = threadCPUSeconds()
        let sol = try method.solve(model, options)
        let firstCPU = threadCPUSeconds() - c0
        let firstWall = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        // Solves of a second or more are timed once; shorter ones as the median of 3. A first
        // solve of 10 s or more is its own timing (what a warm-up saves is far below the noise).
        var times: [Double] = [], cpu: [Double] = []
        // SOLVE_ONCE=1 (for instruction counts under callgrind): the one solve above, no timing.
        let samples = ProcessInfo.processInfo.environment["SOLVE_ONCE"] == "1" || firstWall >= 10 ? 0 : 3
        for _ in 0..<samples {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = threadCPUSeconds()
            blackHole(try method.solve(model, options))
            cpu.append(threadCPUSeconds() - c0)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            times.append(dt)
            if dt > 1 { break }
        }
        if times.isEmpty {
            (times, cpu) = firstWall >= 10 && ProcessInfo.processInfo.environment["SOLVE_ONCE"] != "1" ? ([firstWall], [firstCPU]) : ([.nan], [.nan])
        }
        times.sort()
        cpu.sort()
        m = Measurement(
            method: name, N: N, reltol: reltol,
            error: sol.retcode.isSuccessful ? relativeMaxError(endState(sol), reference) : .nan,
            seconds: times[times.count / 2], cpuSeconds: cpu[cpu.count / 2], peakRSSMB: peakRSSMegabytes(), nf: sol.stats.nf, njacs: sol.stats.njacs,
            nlu: sol.stats.nluFactorizations, nlinsolves: sol.stats.nlinsolves, steps: sol.stats.naccept,
            retcode: sol.retcode.description)
    }
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    print(String(decoding: try encoder.encode(m), as: UTF8.self))
}

if arguments.contains("--child") {
    do { try runChild() } catch {
        FileHandle.standardError.write("\(error)\n".data(using: .utf8)!)
        exit(1)
    }
    exit(0)
}

// MARK: Parent: references, children, tables

let out = try ScriptOutput(name: "large-stiff-bench")
let sizes = argument("--sizes").map { $0.split(separator: ",").compactMap { Int($0) } } ?? [32, 64, 128]
let reltols: [Double] =
    argument("--reltols").map { $0.split(separator: ",").compactMap { Double($0) } } ?? (quick ? [1e-4, 1e-6] : [1e-4, 1e-5, 1e-6, 1e-7, 1e-8])
/// `--methods A,B`: only these methods (an entry that is a method's whole name selects that one
/// method; any other entry, the methods whose names contain it); all by default.
let methodFilter = argument("--methods").map { $0.split(separator: ",").map(String.init) }
func selected(_ name: String) -> Bool {
    guard let methodFilter else { return true }
    return methodFilter.contains { entry in
        allMethods.contains(where: { $0.name == entry }) ? entry == name : name.contains(entry)
    }
}

func child(_ method: String, _ N: Int, _ reltol: Double, _ referenceFile: URL) throws -> Measurement? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = ["--child", method, "\(N)", "\(reltol)", referenceFile.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last else {
        print("  \(method) N=\(N) reltol=\(reltol): child exited with status \(process.terminationStatus)")
        return nil
    }
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return try decoder.decode(Measurement.self, from: Data(line.utf8))
}

var results: [Measurement] = []
var notRun: [(method: String, N: Int, why: String)] = []
/// 100x tighter than the tightest compared run, never beyond 1e-10.
let referenceTolerance = max(1e-10, (reltols.min() ?? 1e-8) / 100)
for N in sizes {
    let model = Brusselator2D(gridSize: N)
    let tight = SolveOptions(reltol: referenceTolerance, abstol: .scalar(referenceTolerance), saveEverystep: false)
    let reference = try CVODE_BDF(linearSolver: .klu(analyticSparseJacobian(model))).solve(problem(model), options: tight)
    guard reference.retcode.isSuccessful else { throw ScriptError("reference run at N = \(N): \(reference.retcode)") }
    let ref = endState(reference)
    let referenceFile = out.url("reference-N\(N).json")
    try JSONEncoder().encode(ref).write(to: referenceFile)
    // Another method and another linear solver at the same tolerance: their distance bounds
    // what the reference can resolve.
    let check = try Rodas5P(linearSolver: .sparseLU).solve(sparseProblem(model), options: tight)
    print("N = \(N) (n = \(model.stateCount), \(pattern(model).nonzeroCount) nonzeros): reference CVODE_BDF KLU at \(referenceTolerance)"
        + " (\(reference.stats.naccept) steps); vs Rodas5P KLU at \(referenceTolerance): \(sig(relativeMaxError(endState(check), ref), 3))")
    let baseline = try child("baseline", N, 0, referenceFile)
    print("  baseline peak RSS (problem built, no solve): \(sig(baseline?.peakRSSMB ?? .nan, 4)) MB")
    print("  " + ["method", "reltol", "error", "wall s", "cpu s", "peak MB", "nf", "njacs", "nLU/npe", "nlin", "steps", "retcode"]
        .enumerated().map { pad($1, $0 == 0 ? 28 : 9) }.joined(separator: " "))
    for method in allMethods {
        if !selected(method.name) { continue }
        if let why = method.fits(N) {
            notRun.append((method.name, N, why))
            print("  " + pad(method.name, 28) + "  not run: \(why)")
            continue
        }
        for reltol in reltols {
            guard let m = try child(method.name, N, reltol, referenceFile) else { continue }
            results.append(m)
            let cells = [
                m.method, sig(m.reltol, 2), sig(m.error, 3), sig(m.seconds, 3), sig(m.cpuSeconds, 3), sig(m.peakRSSMB, 4), "\(m.nf)", "\(m.njacs)", "\(m.nlu)",
                "\(m.nlinsolves)", "\(m.steps)", m.retcode,
            ]
            print("  " + cells.enumerated().map { pad($1, $0 == 0 ? 28 : 9) }.joined(separator: " "))
        }
    }
}

try out.writeJSON(results, to: "large-stiff-bench.json")
for N in sizes {
    let points = results.filter { $0.N == N }.map {
        WorkPrecisionPoint(
            method: $0.method, reltol: $0.reltol, error: $0.error, nf: $0.nf, njacs: $0.njacs, nlu: $0.nlu, steps: $0.steps,
            seconds: $0.seconds, retcode: $0.retcode)
    }
    guard !points.isEmpty else { continue }
    try? plotWorkPrecision(
        out, file: "brusselator-N\(N)", title: "2-D Brusselator N = \(N) (n = \(2 * N * N))", xlabel: "relative max error at t = 1",
        points: points)
}
// Closing note: per N, at each error a CVODE_BDF run reached, the fastest native method and the
// fastest CVODE method there (CPU time, each method's Pareto front interpolated log-log), and
// their ratio: the goal is a ratio of at least 2 at every N.
print("\nNative vs CVODE_BDF at CVODE's errors (CPU seconds per solve, read off each method's work-precision curve):")
let cvodeNames = Set(cvodeMethods.map(\.name))
let nativeNames = Set((nativeDenseMethods + nativeSparseMethods()).map(\.name))
for N in sizes {
    let points = results.filter { $0.N == N }.map {
        WorkPrecisionPoint(
            method: $0.method, reltol: $0.reltol, error: $0.error, nf: $0.nf, steps: $0.steps, seconds: $0.cpuSeconds,
            retcode: $0.retcode)
    }
    for run in points.filter({ cvodeNames.contains($0.method) && $0.error.isFinite }).sorted(by: { $0.error > $1.error }) {
        // A method run at one reltol only has a front of one point: the run itself stands for it.
        guard let native = fastest(points, at: run.error, excluding: cvodeNames) else { continue }
        let cvode = fastest(points, at: run.error, excluding: nativeNames) ?? (run.method, run.seconds)
        print("  N = \(N), error \(sig(run.error, 3)) (\(run.method) at \(sig(run.reltol, 2))): native \(native.method) \(sig(native.seconds, 3)) s,"
            + " CVODE \(cvode.method) \(sig(cvode.seconds, 3)) s: \(sig(cvode.seconds / native.seconds, 3))x")
    }
}
for (method, N, why) in notRun { print("  not run: \(method) at N = \(N): \(why)") }
print("\nWall times were taken on a shared, loaded machine: read them as noise; the work counters and peak RSS are not.")
print("Output: \(out.folder.path)")
