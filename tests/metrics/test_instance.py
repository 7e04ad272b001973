import math

import numpy as np

from samrs_hf.metrics import InstanceIoU


def test_miou_i_and_p_by_hand():
    acc = InstanceIoU()
    a_pred = np.zeros((4, 4), bool)
    a_pred[:2, :2] = True  # 4 px
    a_gt = np.zeros((4, 4), bool)
    a_gt[:2, :3] = True  # 6 px, I=4 U=6
    b_pred = np.zeros((4, 4), bool)
    b_pred[3, 0] = True  # I=0 U=2
    b_gt = np.zeros((4, 4), bool)
    b_gt[3, 3] = True
    acc.update(a_pred, a_gt)
    acc.update(b_pred, b_gt)
    acc.update(np.zeros((4, 4), bool), np.zeros((4, 4), bool))  # empty union: skipped
    assert acc.instances == 2
    assert math.isclose(acc.miou_i, 100 * (4 / 6 + 0) / 2)
    assert math.isclose(acc.miou_p, 100 * 4 / 8)


def test_ground_truth_scores_100():
    acc = InstanceIoU()
    gt = np.random.default_rng(0).random((8, 8)) > 0.5
    acc.update(gt, gt)
    assert acc.miou_i == 100 and acc.miou_p == 100
